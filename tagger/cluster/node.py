"""One node of the cluster: heartbeat, renew, balance, in a thread of its own.

Every ``renew`` period the node beats (``cluster_nodes``), renews the leases
it holds at their epochs (a lease missing from the answer is lost: dropped
at once), hands back the accounts it was asked to release once no cycle uses
them, and takes free or expired leases up to its fair share
(:mod:`tagger.cluster.balance`). A round that cannot reach PostgreSQL
changes nothing: the holdings' deadlines run out on the monotonic clock and
the node stops sending for those accounts before their leases can expire
(:mod:`tagger.cluster.tenure`). A round stuck on a connection that answers
nothing (a network cut) is cut off after two ``renew`` periods by shutting the
connection's socket, and the next round reconnects.

Takeover bound: a dead node's leases expire at most ``lease`` after its last
renewal, and another node takes them at its next round: within
``lease + renew`` (25 s with the defaults), plus one round's own time.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from typing import Any

import structlog

from tagger.cluster import claims, leases
from tagger.cluster.balance import fair_share, plan_moves
from tagger.cluster.schema import ensure_schema
from tagger.cluster.tenure import Tenure
from tagger.state.pgcut import shut_socket

__all__ = ["ClusterNode", "new_owner"]

log = structlog.get_logger("tagger.cluster")

# Claims recorded applied are kept this long (for `status`), then pruned.
SETTLED_CLAIMS_KEPT_S = 3600.0


def new_owner(node: str) -> str:
    """Return a lease owner for a new incarnation of ``node`` (its name and a random suffix)."""
    return f"{node}#{uuid.uuid4().hex[:8]}"


class ClusterNode:
    """This process as one node (see module docstring).

    Given ``connect`` (returns a new autocommit psycopg connection), the
    node's name, the accounts every node serves, the lease and renew
    periods in seconds, and ``safety_s``: how long before its lease can
    expire a node that could not renew stops sending.
    """

    def __init__(
        self,
        connect: Callable[[], Any],
        node: str,
        accounts: Sequence[str],
        *,
        lease_s: float = 20.0,
        renew_s: float = 5.0,
        safety_s: float | None = None,
    ) -> None:
        self.connect = connect
        self.node = node
        self.owner = new_owner(node)
        self.accounts = tuple(dict.fromkeys(accounts))
        self.lease_s = lease_s
        self.renew_s = renew_s
        margin = renew_s if safety_s is None else safety_s
        self.tenure = Tenure(self.owner, node, lease_s, margin)
        self.last_error: str | None = None
        self.rounds = 0
        # Called (from the node's thread) after a round that took leases.
        self.on_taken: Callable[[], None] | None = None
        self._new_accounts = False
        self._conn: Any = None
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._worker = ThreadPoolExecutor(1, thread_name_prefix="tagger-cluster-db")

    def start(self) -> None:
        """Run the first round now (raises when PostgreSQL cannot be reached), then in a thread."""
        self._round()
        self._thread = threading.Thread(target=self._loop, name="tagger-cluster", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop the rounds, hand back every lease and mark the node gone (best effort)."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=self.renew_s * 3)
        gone = self.tenure.clear()
        with contextlib.suppress(Exception):
            conn = self._db()
            for account, epoch in gone:
                leases.release(conn, account, self.owner, epoch)
            leases.leave(conn, self.owner)
        self._close()
        self._worker.shutdown(wait=False, cancel_futures=True)

    def serve(self, accounts: Sequence[str]) -> None:
        """Serve ``accounts`` from the next round on (a reload changed them).

        New accounts get their lease rows and are balanced as any other; the
        accounts no longer served are handed back once no cycle uses them.
        """
        names = tuple(dict.fromkeys(accounts))
        for account in set(self.tenure.held()) - set(names):
            self.tenure.mark_releasing(account)
        self.accounts = names
        self._new_accounts = True
        self.wake()

    def wake(self) -> None:
        """Run the next round now (e.g. after a cycle ended on an account being handed back)."""
        self.tenure.changed.set()

    def _loop(self) -> None:
        """Run a round every ``renew`` period until stopped (errors are logged, never raised)."""
        while not self._stop.is_set():
            self.tenure.changed.wait(self.renew_s)
            self.tenure.changed.clear()
            if self._stop.is_set():
                return
            future: Future[None] = self._worker.submit(self._round)
            try:
                future.result(timeout=self.renew_s * 2)
            except FutureTimeout:
                self.last_error = "PostgreSQL did not answer within two renew periods"
                log.error("cluster_round_stuck", node=self.node, error=self.last_error)
                self._cut()
                with contextlib.suppress(Exception):
                    future.result(timeout=self.renew_s)
            except Exception as exc:
                self.last_error = _describe(exc)
                log.error("cluster_round_failed", node=self.node, error=self.last_error)
                self._close()

    def _round(self) -> None:
        """Beat, renew, hand back, take (see module docstring)."""
        conn = self._db()
        if self.rounds == 0:
            ensure_schema(conn)
        if self.rounds == 0 or self._new_accounts:
            leases.ensure_accounts(conn, self.accounts)
            self._new_accounts = False
        leases.heartbeat(conn, self.owner, self.node, socket.gethostname(), os.getpid())
        held = self.tenure.held()
        sent = time.monotonic()
        if held:
            self.tenure.renewed(leases.renew(conn, self.owner, held, self.lease_s), sent)
        for account, epoch in self.tenure.idle_releasing():
            leases.release(conn, account, self.owner, epoch)
            log.info("lease_handed_back", account=account, node=self.node, epoch=epoch)
        live = leases.live_nodes(conn, self.lease_s)
        share = fair_share(len(self.accounts), len(live))
        moves = plan_moves(self.tenure.held(), leases.takeable(conn, self.accounts), share)
        for account in moves.hand_back:
            self.tenure.mark_releasing(account)
        took = False
        for account in moves.take:
            sent = time.monotonic()
            taken = leases.take(conn, account, self.owner, self.lease_s)
            if taken is not None:
                took = True
                self.tenure.took(account, taken, sent)
                log.info("lease_taken", account=account, node=self.node, epoch=taken)
        if took and self.on_taken is not None and self.rounds > 0:
            self.on_taken()
        if self.rounds % 60 == 59:
            claims.prune_settled(conn, SETTLED_CLAIMS_KEPT_S)
        self.rounds += 1
        self.last_error = None

    def _db(self) -> Any:
        """Return the node's connection, connecting when there is none."""
        if self._conn is None:
            self._conn = self.connect()
        return self._conn

    def _close(self) -> None:
        """Close the node's connection (the next round reconnects)."""
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()

    def _cut(self) -> None:
        """Shut the socket of a connection stuck waiting, so the blocked round returns."""
        if self._conn is not None:
            shut_socket(self._conn)


def _describe(exc: Exception) -> str:
    """Return a one-line description of a database error (never a password: DSNs are not quoted)."""
    text = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {text[0] if text else ''}"
