"""The shared token buckets in PostgreSQL: one per (quota fingerprint, endpoint).

A bucket is kept in "theoretical arrival time" form (GCRA), judged by the
database's clock only (microseconds since the epoch, :data:`NOW_US`), so the
nodes' clocks never matter. ``interval_us`` is the time between two requests
added back (the refill), ``burst`` the bucket's size; ``tat`` is when the
bucket would be full again; a call may be sent at
``max(now, not_before, tat - (burst - 1) * interval_us)`` and pushes ``tat``
one interval on. That is a token bucket refilled by elapsed time and capped
at ``burst``, and a take is ONE atomic ``UPDATE ... RETURNING`` that reserves
the call's send time (no polling: the callers sleep until their time, the
nodes' calls interleave in the order they asked). A call whose time would
come later than it may wait reserves nothing.

What a node's gate has learned (from the headers, or from observed 429s) is
published with :func:`learn`. Nodes may disagree. A refill read from a full
bucket's first dip (``exact``: the service's Reset is then the whole
interval) beats the others, which are bounds or estimates: a partial Reset
gives too short an interval, and a refill measured from one node's own
calls is that node's share, not the quota, once several nodes spend it.
Between views alike, the slowest refill and the smallest burst reported
within :data:`FRESH_US` win, since pacing below the quota costs a little
throughput and pacing above it costs 429s for every node; a view nobody
repeats for that long gives way to the next one reported, so a quota that
was raised is used again. A view that carries the service's
``X-RateLimit-Remaining`` empties the bucket to match when the service's is
emptier (never fills it), and a 429 seen by any node :func:`drain` s the
bucket: empty until the wait the service asked for (``not_before``), for
every node. ``quota_nodes`` says which nodes shared a bucket lately
(:func:`heartbeat`): a node that cannot reach the database paces at its share.

Only the fingerprint (:func:`~tagger.mimecast.quota.quota_fingerprint`) is
stored, never a key or a secret. Each function takes an open connection in
autocommit mode and returns plain values.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from psycopg import Connection

from tagger.cluster.dbtime import NOW_US
from tagger.state.clustertables import QUOTA_STATEMENTS as SCHEMA

__all__ = [
    "FRESH_US",
    "LIVE_US",
    "NOW_US",
    "BucketRow",
    "Grant",
    "drain",
    "ensure_schema",
    "heartbeat",
    "learn",
    "read_bucket",
    "take",
]

# The database's clock, in microseconds since the epoch (never a node's clock).
# A learned rate slower than the one reported now stays in force this long.
FRESH_US = 60_000_000
# A node that has not taken a turn in this long no longer counts as sharing a bucket.
LIVE_US = 30_000_000
# "No bound" on a take's wait, in microseconds (a year).
NO_BOUND_US = 365 * 86_400 * 1_000_000

# Serialises the DDL of nodes starting together (CREATE TABLE IF NOT EXISTS races in
# the catalog otherwise); a transaction lock for the schema only, never for safety.
_SCHEMA_LOCK = 0x7461676771756F74  # "tagqquot"


@dataclass(frozen=True, slots=True)
class Grant:
    """A take's answer: whether a turn was reserved, and how long until it (seconds).

    ``wait_s`` is the time from now until the turn (when ``granted``), or
    until the earliest turn (when not: nothing was reserved). ``send_at_us``
    is the turn on the database's clock. ``known`` is False when no node has
    learned the endpoint's refill yet (the turn is then only a 429's wait).
    """

    granted: bool
    wait_s: float
    send_at_us: float
    known: bool = True


@dataclass(frozen=True, slots=True)
class BucketRow:
    """A bucket as stored: refill interval (s), burst, turns granted, 429s reported."""

    interval_s: float
    burst: int
    granted: int
    throttled: int
    not_before_us: int
    learned_by: str


def ensure_schema(conn: Connection[Any]) -> None:
    """Create the quota tables when missing (idempotent; safe for nodes starting together)."""
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_SCHEMA_LOCK,))
        for statement in SCHEMA:
            conn.execute(statement)


def _bound_us(max_wait_s: float) -> int:
    if math.isnan(max_wait_s) or max_wait_s < 0:
        return 0
    return NO_BOUND_US if max_wait_s == math.inf else min(int(max_wait_s * 1e6), NO_BOUND_US)


# One "now" per take, read before the row lock is taken and never earlier than the last
# take's (so the turns handed out are in order); the lock wait it misses is a fraction of
# a millisecond, far below any refill interval.
_N = "GREATEST(n.us, b.taken_at)"
_EARLIEST = f"GREATEST({_N}, b.not_before, b.tat - (b.burst - 1) * b.interval_us)"
_WITHIN = f"{_EARLIEST} - {_N} <= %(bound)s"

_TAKE = f"""
UPDATE quota_buckets AS b SET
    send_at = {_EARLIEST},
    taken_at = {_N},
    granted_last = {_WITHIN},
    tat = CASE WHEN {_WITHIN} THEN GREATEST(b.tat, {_N}) + b.interval_us ELSE b.tat END,
    granted = b.granted + CASE WHEN {_WITHIN} THEN 1 ELSE 0 END
FROM (SELECT {NOW_US} AS us) AS n
WHERE b.credential = %(credential)s AND b.endpoint = %(endpoint)s
RETURNING b.granted_last, b.send_at, b.taken_at, b.interval_us > 0
"""


_FIRST = f"""
INSERT INTO quota_buckets (credential, endpoint, tat, granted, send_at, taken_at, granted_last)
VALUES (%(credential)s, %(endpoint)s, {NOW_US}, 1, {NOW_US}, {NOW_US}, TRUE)
ON CONFLICT (credential, endpoint) DO NOTHING
RETURNING send_at
"""


def take(conn: Connection[Any], credential: str, endpoint: str, max_wait_s: float) -> Grant:
    """Reserve one call's turn in the bucket; returns when it is (see :class:`Grant`).

    One atomic statement: concurrent takes (any node) queue on the row and
    each sees the others' reservations. A bucket nobody has learned yet
    grants at once (the nodes' own gates probe the service meanwhile) and
    counts it: the first view learned allows for those calls.
    """
    params = {"bound": _bound_us(max_wait_s), "credential": credential, "endpoint": endpoint}
    row = conn.execute(_TAKE, params).fetchone()
    if row is None:
        # Nothing known yet: the call goes out, counted (the first view allows for it).
        first = conn.execute(_FIRST, params).fetchone()
        if first is not None:
            return Grant(True, 0.0, float(first[0]), known=False)
        row = conn.execute(_TAKE, params).fetchone()  # another node made the bucket meanwhile
        assert row is not None  # buckets are never deleted
    granted, send_at, taken_at, known = row
    wait_s = max(float(send_at) - float(taken_at), 0.0) / 1e6
    return Grant(bool(granted), wait_s, float(send_at), known=bool(known))


# Whether a node's view replaces the bucket's: the bucket's is stale or has no rate, or the
# new one was read exactly where the old one was not, or both are alike and it is slower.
_ADOPT = f"""(b.learned_at < {NOW_US} - %(fresh)s OR b.interval_us = 0
    OR (EXCLUDED.exact AND NOT b.exact)
    OR (EXCLUDED.exact = b.exact AND EXCLUDED.interval_us >= b.interval_us))"""

# Whether a node's view replaces the bucket's outright (else the smallest burst is kept).
_REPLACE = f"""(b.learned_at < {NOW_US} - %(fresh)s OR b.interval_us = 0
    OR (EXCLUDED.exact AND NOT b.exact))"""

_LEARN = f"""
INSERT INTO quota_buckets AS b (credential, endpoint, interval_us, burst, exact, tat, learned_at,
                                learned_by)
VALUES (%(credential)s, %(endpoint)s, %(interval)s, %(burst)s, %(exact)s,
        {NOW_US} + CASE WHEN %(remaining)s::integer IS NULL THEN 0
                        ELSE GREATEST(%(burst)s - %(remaining)s - 1, 0) * %(interval)s
                             + COALESCE(%(reset)s, %(interval)s) END,
        {NOW_US}, %(node)s)
ON CONFLICT (credential, endpoint) DO UPDATE SET
    interval_us = CASE WHEN {_ADOPT} THEN EXCLUDED.interval_us ELSE b.interval_us END,
    burst = CASE WHEN {_REPLACE} THEN EXCLUDED.burst ELSE LEAST(b.burst, EXCLUDED.burst) END,
    exact = CASE WHEN {_ADOPT} THEN EXCLUDED.exact ELSE b.exact END,
    learned_by = CASE WHEN {_ADOPT} THEN EXCLUDED.learned_by ELSE b.learned_by END,
    learned_at = CASE WHEN {_ADOPT} THEN {NOW_US} ELSE b.learned_at END,
    tat = CASE WHEN %(remaining)s::integer IS NULL THEN b.tat
               WHEN b.interval_us = 0
               -- The first view: the calls let out unpaced by the other nodes meanwhile
               -- (granted while nothing was known, this node's one excepted) may not be
               -- in its Remaining yet.
               THEN GREATEST(b.tat, {NOW_US} + (GREATEST(%(burst)s - %(remaining)s - 1, 0)
                                                + GREATEST(b.granted - 1, 0)) * %(interval)s
                                              + COALESCE(%(reset)s, %(interval)s))
               ELSE GREATEST(b.tat, {NOW_US} + GREATEST(b.burst - %(remaining)s - 1, 0)
                                                * b.interval_us
                                               + COALESCE(%(reset)s, b.interval_us)) END
"""


def learn(
    conn: Connection[Any],
    credential: str,
    endpoint: str,
    refill_per_s: float,
    burst: int,
    node: str,
    *,
    exact: bool = False,
    remaining: int | None = None,
    reset_s: float | None = None,
) -> None:
    """Publish one node's view of the endpoint's quota (see the module docstring).

    ``refill_per_s`` > 0 and ``burst`` >= 1 are what the node's gate learned,
    ``exact`` True when the gate read the refill from a full bucket's first
    dip (its other readings are bounds or estimates); ``node`` names the
    reporting node (shown, never used for safety). ``remaining`` and
    ``reset_s`` are the response's ``X-RateLimit-Remaining`` and ``-Reset``
    (None: not sent): a bucket the service says is emptier than the shared
    one (calls made before it was learned, or by another client of the key)
    is emptied to match, never filled.
    """
    if not refill_per_s > 0 or math.isinf(refill_per_s):
        raise ValueError(f"learn: refill_per_s must be a positive number, not {refill_per_s!r}")
    reset = None if not reset_s or math.isnan(reset_s) else min(max(reset_s, 0.0), 86_400.0)
    conn.execute(
        _LEARN,
        {
            "credential": credential,
            "endpoint": endpoint,
            "interval": 1e6 / refill_per_s,
            "burst": max(int(burst), 1),
            "fresh": FRESH_US,
            "node": node,
            "exact": exact,
            "remaining": None if remaining is None else max(int(remaining), 0),
            "reset": None if reset is None else int(reset * 1e6),
        },
    )


_DRAIN = f"""
INSERT INTO quota_buckets AS b (credential, endpoint, tat, not_before, throttled)
VALUES (%(credential)s, %(endpoint)s, {NOW_US} + %(wait)s, {NOW_US} + %(wait)s, 1)
ON CONFLICT (credential, endpoint) DO UPDATE SET
    not_before = GREATEST(b.not_before, {NOW_US} + %(wait)s),
    tat = GREATEST(b.tat, {NOW_US} + %(wait)s + (b.burst - 1) * b.interval_us),
    throttled = b.throttled + 1
"""


def drain(conn: Connection[Any], credential: str, endpoint: str, wait_s: float) -> None:
    """A 429: the bucket is empty for every node until ``wait_s`` from now (DB clock)."""
    wait_us = 0 if math.isnan(wait_s) else int(min(max(wait_s, 0.0), 86_400.0) * 1e6)
    conn.execute(_DRAIN, {"credential": credential, "endpoint": endpoint, "wait": wait_us})


_HEARTBEAT = f"""
INSERT INTO quota_nodes (credential, owner, seen_at) VALUES (%(credential)s, %(owner)s, {NOW_US})
ON CONFLICT (credential, owner) DO UPDATE SET seen_at = EXCLUDED.seen_at
"""
_LIVE = f"""
SELECT count(*) FROM quota_nodes
WHERE credential = %(credential)s AND (seen_at > {NOW_US} - %(live)s OR owner = %(owner)s)
"""


def heartbeat(conn: Connection[Any], credential: str, owner: str) -> int:
    """Say ``owner`` shares the bucket ``credential``; returns how many nodes do (``owner`` too)."""
    params = {"credential": credential, "owner": owner, "live": LIVE_US}
    conn.execute(_HEARTBEAT, params)
    row = conn.execute(_LIVE, params).fetchone()
    return max(int(row[0]) if row else 1, 1)


def read_bucket(conn: Connection[Any], credential: str, endpoint: str) -> BucketRow | None:
    """Return the bucket of (``credential``, ``endpoint``), None when there is none."""
    row = conn.execute(
        "SELECT interval_us, burst, granted, throttled, not_before, learned_by"
        " FROM quota_buckets WHERE credential = %s AND endpoint = %s",
        (credential, endpoint),
    ).fetchone()
    if row is None:
        return None
    interval_us, burst, granted, throttled, not_before, learned_by = row
    return BucketRow(
        float(interval_us) / 1e6,
        int(burst),
        int(granted),
        int(throttled),
        int(not_before),
        str(learned_by),
    )
