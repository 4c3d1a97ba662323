"""A node stopped or cut off in the middle of a fenced write never holds up a takeover.

The fence holds the account's lease row FOR SHARE until its transaction
ends. A node frozen (SIGSTOP) or partitioned inside that transaction would
keep the row locked for as long as PostgreSQL keeps its session, and every
other node's takeover would wait on it. The fence bounds how long the
transaction may sit idle, so the server ends it before the lease can expire.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from tagger.cluster import claims, leases
from tagger.cluster.node import ClusterNode
from tagger.cluster.tenure import LeaseFence

ACCOUNTS = ["tenant00", "tenant01"]
LEASE_S, RENEW_S = 1.5, 0.25


def _until(check: Callable[[], bool], what: str, within_s: float) -> float:
    """Poll ``check`` until True; returns the seconds it took (fails after ``within_s``)."""
    start = time.monotonic()
    while time.monotonic() - start < within_s:
        if check():
            return time.monotonic() - start
        time.sleep(0.05)
    raise AssertionError(f"not within {within_s} s: {what}")


@pytest.fixture
def connect(pg_dsn: str) -> Callable[[], Any]:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:  # the ledger's, as claims read it
        conn.execute("CREATE TABLE applied (account TEXT, message_id TEXT, tag_id TEXT)")
    return lambda: psycopg.connect(pg_dsn, autocommit=True, connect_timeout=5)


@pytest.fixture
def nodes() -> Iterator[list[ClusterNode]]:
    made: list[ClusterNode] = []
    yield made
    for node in made:
        node.stop()


def _join(nodes: list[ClusterNode], connect: Callable[[], Any], name: str) -> ClusterNode:
    """Start node ``name`` in a thread (its first round must not hang the test when blocked)."""
    node = ClusterNode(connect, name, ACCOUNTS, lease_s=LEASE_S, renew_s=RENEW_S)
    nodes.append(node)
    threading.Thread(target=node.start, daemon=True).start()
    return node


def _stalled(conn: Any, run: Callable[[Any], object]) -> None:
    """Open a transaction on ``conn``, run ``run`` in it, leave it open (as a frozen node)."""
    conn.execute("BEGIN")
    run(conn)


def test_a_fenced_write_left_open_does_not_block_the_takeover(
    nodes: list[ClusterNode], connect: Callable[[], Any]
) -> None:
    a = ClusterNode(connect, "a", ACCOUNTS, lease_s=LEASE_S, renew_s=RENEW_S)
    nodes.append(a)
    a.start()
    held = a.tenure.holding("tenant00")
    assert held is not None
    fence = LeaseFence(a.tenure, "tenant00", held.epoch)
    frozen = connect()
    try:
        _stalled(frozen, lambda c: fence.check(lambda sql, args: c.execute(sql, args).fetchall()))
        a._stop.set()  # frozen: no more renewals, the write never commits
        stalled_at = time.monotonic()
        b = _join(nodes, connect, "b")
        _until(lambda: "tenant00" in b.tenure.held(), "b takes the frozen node's account", 15)
        # Within the takeover bound (lease + renew, plus a round's own time), as for a dead node.
        assert time.monotonic() - stalled_at < LEASE_S + RENEW_S * 4
        # The server ended the frozen transaction: nothing it held lands after the takeover.
        with pytest.raises(psycopg.errors.IdleInTransactionSessionTimeout):
            frozen.execute("SELECT 1")
    finally:
        frozen.close()  # a failed test must not leave the row locked for the teardown
    nodes.remove(a)


def test_a_claim_left_open_does_not_block_the_takeover(
    nodes: list[ClusterNode], connect: Callable[[], Any]
) -> None:
    a = ClusterNode(connect, "a", ACCOUNTS, lease_s=LEASE_S, renew_s=RENEW_S)
    nodes.append(a)
    a.start()
    held = a.tenure.holding("tenant01")
    assert held is not None
    frozen = connect()
    try:
        # A claim's transaction inside a transaction left open: frozen before it commits.
        _stalled(
            frozen,
            lambda c: claims.claim(
                c, "tenant01", "m1", "t1", "r1", held.owner, held.epoch, idle_s=RENEW_S
            ),
        )
        a._stop.set()
        b = _join(nodes, connect, "b")
        _until(lambda: "tenant01" in b.tenure.held(), "b takes the frozen node's account", 15)
    finally:
        frozen.close()
    with connect() as conn:
        rows = {r.account: r.owner for r in leases.leases(conn)}
        left = conn.execute("SELECT count(*) FROM claims").fetchone()
    assert rows["tenant01"] == b.owner
    assert left == (0,)  # the frozen claim was rolled back with its session
    nodes.remove(a)
