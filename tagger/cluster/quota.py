"""One quota per application across nodes: the shared buckets as a node's calls see them.

:class:`SharedQuota` is the :class:`~tagger.mimecast.crossnode.CrossNodeQuota`
of a node whose accounts share credentials with other nodes' accounts. Each
call takes its turn in the bucket of its quota and endpoint in PostgreSQL
(:mod:`tagger.cluster.buckets`: one atomic statement, judged by the
database's clock) and sleeps until it; the node's own gates still pace to the
headers and back off on 429s as they do for one process. What the gates
learn is published to the bucket (a refill read exactly beats estimates,
else the slowest recent view wins: :mod:`tagger.cluster.buckets`), headers
saying the service's bucket is empty empty the shared one, and a 429 seen by
any node empties it for every node until the wait the service asked for.
Until the bucket is learned a node lets one call out and waits for its
answer, rather than spend the burst its own gate saw.

A node holds at most one turn per bucket at a time, from asking until its
time comes: the nodes' calls interleave in the order they asked (no node
reserves the whole quota ahead of the others) and a turn the call no longer
needs costs at most one request of the quota. The database calls run in
worker threads (:func:`asyncio.to_thread`): the event loop never waits on
the network.

When PostgreSQL cannot be reached (or answers too slowly) the node says so
once (``cluster_quota_unreachable``, a warning) and paces each endpoint on its
own, one call at a time at the slowest refill it knows of (its own gate's
or the bucket's last) times the number of nodes last seen sharing the
bucket: the nodes together stay under the quota while none of them can
coordinate, at the price of a share each that nobody else may be using.
That is the safe side: a 429 costs every node, an idle share only this one.
The database is tried again every :data:`RETRY_S`, in the background (no
call waits on it); ``cluster_quota_reachable`` says when it answers again.
"""

from __future__ import annotations

import asyncio
import math
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

import psycopg
import structlog
from psycopg_pool import ConnectionPool

from tagger.cluster.buckets import Grant, drain, ensure_schema, heartbeat, learn, take
from tagger.mimecast.ratelimit import OutOfTime, RateLimitGate, RateLimitInfo

__all__ = ["RETRY_S", "SharedQuota", "ensure_schema"]

log = structlog.get_logger("tagger.cluster")

# How long one database call may take before the node paces on its own (seconds).
CALL_TIMEOUT_S = 3.0
# How long the node paces on its own before it tries the database again.
RETRY_S = 5.0
# How often a node says it shares a bucket (and counts who else does).
HEARTBEAT_S = 5.0
# How often a node repeats an unchanged view of a quota (it stays "fresh" for the others).
REPUBLISH_S = 20.0
# How long a node waits for the answer to the one call it let out to an unlearned bucket.
PROBE_WAIT_S = 5.0
# A view that differs by less than this share is not news.
CHANGED = 0.01

_SECRET = re.compile(r"(password\s*=\s*)\S+|(://[^:/@\s]+:)[^@\s]+@", re.IGNORECASE)


def _describe(exc: BaseException) -> str:
    """Return the first line of an error, with anything shaped like a password masked."""
    text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return _SECRET.sub(_mask, text)


def _mask(found: re.Match[str]) -> str:
    if found.group(1):
        return found.group(1) + "***"
    return found.group(2) + "***@"


@dataclass
class _Lane:
    """A node's side of one bucket (quota, endpoint)."""

    lock: asyncio.Lock = field(default_factory=asyncio.Lock)
    own_interval: float = 0.0  # seconds between calls the node's gate paces to (0: unknown)
    shared_interval: float = 0.0  # the bucket's, last seen published (0: unknown)
    published: tuple[float, int, bool] | None = None
    published_at: float = -math.inf
    publishing: bool = False
    first: asyncio.Task[None] | None = None  # the first view published, while it is written
    # Set while a call the bucket could not pace (nothing learned yet) awaits its answer.
    probe: asyncio.Event | None = None
    next_alone: float = 0.0  # the next call's time when pacing alone (monotonic)


class SharedQuota:
    """A node's view of the quotas it shares through PostgreSQL (see the module docstring).

    Given a connection pool (autocommit connections), the node's owner id
    (``<node>#<incarnation>``), and the monotonic ``clock`` and ``sleep``.
    Use :meth:`connect` to build one from a DSN; :meth:`close` at shutdown.
    """

    def __init__(
        self,
        pool: ConnectionPool[Any],
        owner: str,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._pool = pool
        self.owner = owner
        self._clock = clock
        self._sleep = sleep
        self._lanes: dict[tuple[str, str], _Lane] = {}
        self._nodes: dict[str, int] = {}  # nodes last seen sharing each bucket
        self._beat_at: dict[str, float] = {}
        self._schema = False
        self.down_since: float | None = None  # when the database stopped answering
        self._retry_at = -math.inf
        self.alone_turns = 0  # turns paced alone (database unreachable)
        self._tasks: set[asyncio.Task[None]] = set()

    @classmethod
    def connect(cls, dsn: str, node_owner: str, *, pool_size: int = 4) -> SharedQuota:
        """Return a shared quota over a small pool of connections to ``dsn``.

        Never waits for the database: the pool connects in the background,
        and a node that cannot reach it paces alone (warned) until it can.
        ``dsn`` is a secret (it may hold a password): it is never logged.
        """
        pool: ConnectionPool[Any] = ConnectionPool(
            dsn,
            min_size=1,
            max_size=max(pool_size, 1),
            kwargs={
                "autocommit": True,
                "connect_timeout": int(CALL_TIMEOUT_S),
                "application_name": "tagger-quota",
                # A connection cut off without a reset fails within seconds, not minutes.
                "keepalives": 1,
                "keepalives_idle": 5,
                "keepalives_interval": 2,
                "keepalives_count": 2,
                "tcp_user_timeout": int(CALL_TIMEOUT_S * 1000),
            },
            timeout=CALL_TIMEOUT_S,
            open=False,
            name="tagger-quota",
        )
        pool.open(wait=False)
        return cls(pool, node_owner)

    async def aclose(self) -> None:
        """Write what is still being reported, then :meth:`close` (in a worker thread)."""
        await self.settled()
        await asyncio.to_thread(self.close)

    def close(self) -> None:
        """Say this node no longer shares any bucket (best effort) and close the pool.

        Blocking (at most a few seconds): async code calls :meth:`aclose`.
        """
        try:
            with self._pool.connection(timeout=CALL_TIMEOUT_S) as conn:
                conn.execute("DELETE FROM quota_nodes WHERE owner = %s", (self.owner,))
        except (psycopg.Error, OSError):
            pass  # the others stop counting it after buckets.LIVE_US anyway
        self._pool.close()

    @property
    def reachable(self) -> bool:
        """Return False while the node paces alone (the database did not answer)."""
        return self.down_since is None

    def nodes(self, bucket: str) -> int:
        """Return how many nodes were last seen sharing ``bucket`` (1 before any was seen)."""
        return self._nodes.get(bucket, 1)

    def _lane(self, bucket: str, endpoint: str) -> _Lane:
        lane = self._lanes.get((bucket, endpoint))
        if lane is None:
            lane = self._lanes[bucket, endpoint] = _Lane()
        return lane

    # -- the call's turn ------------------------------------------------------

    async def turn(self, bucket: str, endpoint: str, max_wait_s: float) -> None:
        """Wait for one call's turn (see :meth:`CrossNodeQuota.turn`); raises OutOfTime."""
        lane = self._lane(bucket, endpoint)
        asked = self._clock()
        limit = None if max_wait_s == math.inf else max(max_wait_s, 0.0)
        try:
            async with asyncio.timeout(limit):
                await lane.lock.acquire()
        except TimeoutError:
            raise OutOfTime(max_wait_s) from None
        try:
            await self._learning(lane, max_wait_s - (self._clock() - asked))
            left = max_wait_s - (self._clock() - asked)
            grant = await self._take(bucket, endpoint, left)
            if grant is None:
                await self._alone(bucket, lane, left)
                return
            if not grant.granted:
                raise OutOfTime(grant.wait_s)
            if not grant.known:
                lane.probe = asyncio.Event()
            if grant.wait_s > 0:
                await self._sleep(grant.wait_s)
        finally:
            lane.lock.release()

    async def _learning(self, lane: _Lane, left: float) -> None:
        """Wait while the bucket is being learned: one call out, then its view written.

        Until a node has learned the endpoint's refill the bucket cannot pace,
        so a node lets one call out and waits for its answer (at most
        :data:`PROBE_WAIT_S`: a call may end without one) and for its first
        view of the bucket to be written, rather than spend the whole burst
        its gate saw while the other nodes spend it too. Raises
        :class:`OutOfTime` when that would take longer than ``left``.
        """
        if lane.probe is not None:
            try:
                async with asyncio.timeout(min(left, PROBE_WAIT_S)):
                    await lane.probe.wait()
            except TimeoutError:
                if left < PROBE_WAIT_S:
                    raise OutOfTime(PROBE_WAIT_S) from None
            lane.probe = None
        if lane.first is not None:
            # Bounded by the write's own timeout (CALL_TIMEOUT_S), and by the call's.
            await asyncio.wait({lane.first}, timeout=None if left == math.inf else max(left, 0))
            if lane.first.done():
                lane.first = None

    async def _take(self, bucket: str, endpoint: str, left: float) -> Grant | None:
        """Take a turn in the bucket; None when the database cannot be reached."""
        now = self._clock()
        if self.down_since is not None:
            # Calls never wait on a database that did not answer: they pace alone while
            # one attempt in the background finds out whether it answers again.
            if now >= self._retry_at:
                self._retry_at = now + RETRY_S
                self._spawn(lambda conn: None)
            return None
        beat = now - self._beat_at.get(bucket, -math.inf) >= HEARTBEAT_S
        try:
            grant, nodes = await asyncio.wait_for(
                asyncio.to_thread(self._take_now, bucket, endpoint, left, beat), CALL_TIMEOUT_S
            )
        except (psycopg.Error, OSError, TimeoutError) as exc:
            self._unreachable(exc)
            return None
        self._reachable()
        if nodes is not None:
            self._nodes[bucket] = nodes
            self._beat_at[bucket] = now
        return grant

    def _take_now(
        self, bucket: str, endpoint: str, left: float, beat: bool
    ) -> tuple[Grant, int | None]:
        """Worker thread: the take (and the heartbeat when due); returns both answers."""
        with self._pool.connection(timeout=CALL_TIMEOUT_S) as conn:
            self._ready(conn)
            grant = take(conn, bucket, endpoint, left)
            nodes = heartbeat(conn, bucket, self.owner) if beat else None
            return grant, nodes

    def _ready(self, conn: psycopg.Connection[Any]) -> None:
        if not self._schema:
            ensure_schema(conn)
            self._schema = True

    async def _alone(self, bucket: str, lane: _Lane, left: float) -> None:
        """Pace one call on this node's own share (the database is unreachable)."""
        interval = max(lane.own_interval, lane.shared_interval) * self.nodes(bucket)
        self.alone_turns += 1
        if interval <= 0:
            return  # nothing learned yet: the gate's probing paces it
        now = self._clock()
        at = max(now, lane.next_alone)
        if at - now > left:
            raise OutOfTime(at - now)
        lane.next_alone = at + interval
        if at > now:
            await self._sleep(at - now)

    # -- what the gates learn ---------------------------------------------------

    def learned(
        self,
        bucket: str,
        endpoint: str,
        gate: RateLimitGate,
        info: RateLimitInfo,
        throttled: bool,
    ) -> None:
        """Publish what a response taught (see :meth:`CrossNodeQuota.learned`); never blocks.

        A changed view is published at once, an unchanged one every
        :data:`REPUBLISH_S`, and the service's word that its bucket is empty
        each time it says so (one write at a time per bucket); a 429 drains
        the bucket for every node.
        """
        refill_per_s, capacity = gate.refill_per_s(), gate.capacity
        throttled_wait_s = gate.delay() if throttled else None
        lane = self._lane(bucket, endpoint)
        if lane.probe is not None:
            lane.probe.set()
        now = self._clock()
        if refill_per_s is not None and refill_per_s > 0 and math.isfinite(refill_per_s):
            lane.own_interval = 1.0 / refill_per_s
        if throttled_wait_s is not None:
            wait = max(throttled_wait_s, lane.own_interval)
            lane.next_alone = max(lane.next_alone, now + wait)
            if now >= self._retry_at:
                self._spawn(lambda conn: drain(conn, bucket, endpoint, wait))
            return
        if refill_per_s is None or lane.own_interval <= 0 or now < self._retry_at:
            return
        view = (refill_per_s, max(capacity or 1, 1), gate.exact)
        old = lane.published
        news = old is None or abs(old[0] - view[0]) > CHANGED * old[0] or old[1:] != view[1:]
        empty = info.remaining == 0
        if lane.publishing or not (news or empty or now - lane.published_at >= REPUBLISH_S):
            return
        lane.publishing = True
        lane.published, lane.published_at = view, now

        def publish(conn: psycopg.Connection[Any]) -> None:
            try:
                learn(
                    conn,
                    bucket,
                    endpoint,
                    view[0],
                    view[1],
                    self.owner,
                    exact=view[2],
                    remaining=info.remaining,
                    reset_s=info.reset_s,
                )
                row = conn.execute(
                    "SELECT interval_us FROM quota_buckets WHERE credential = %s AND endpoint = %s",
                    (bucket, endpoint),
                ).fetchone()
                if row is not None:
                    lane.shared_interval = float(row[0]) / 1e6
            finally:
                lane.publishing = False

        task = self._spawn(publish)
        if old is None:
            lane.first = task

    def _spawn(self, work: Callable[[psycopg.Connection[Any]], None]) -> asyncio.Task[None]:
        """Run ``work`` on a pooled connection in a worker thread, in the background.

        Its outcome says whether the database answers (see :attr:`reachable`).
        """

        def run() -> None:
            with self._pool.connection(timeout=CALL_TIMEOUT_S) as conn:
                self._ready(conn)
                work(conn)

        async def background() -> None:
            try:
                await asyncio.wait_for(asyncio.to_thread(run), CALL_TIMEOUT_S)
            except (psycopg.Error, OSError, TimeoutError) as exc:
                self._unreachable(exc)
            else:
                self._reachable()

        task = asyncio.get_running_loop().create_task(background())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    async def settled(self) -> None:
        """Wait until the reports sent in the background are written (or failed)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)

    # -- reachability -----------------------------------------------------------

    def _unreachable(self, exc: BaseException) -> None:
        now = self._clock()
        self._retry_at = now + RETRY_S
        if self.down_since is not None:
            return
        self.down_since = now
        log.warning(
            "cluster_quota_unreachable",
            error=_describe(exc),
            pacing=(
                "alone: one call at a time at the slowest refill known, times the nodes"
                " last seen sharing the quota"
            ),
            nodes={bucket[:24]: n for bucket, n in self._nodes.items()},
            retry_in_s=RETRY_S,
        )

    def _reachable(self) -> None:
        if self.down_since is None:
            return
        log.warning(
            "cluster_quota_reachable",
            after_s=round(self._clock() - self.down_since, 1),
            paced_alone=self.alone_turns,
        )
        self.down_since = None
