"""Nodes balancing accounts and taking over a dead node's, on a real PostgreSQL server."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any

import psycopg
import pytest

from tagger.cluster import leases
from tagger.cluster.node import ClusterNode

ACCOUNTS = [f"tenant{i:02d}" for i in range(7)]
LEASE_S, RENEW_S = 1.5, 0.25


def _until(check: Callable[[], bool], what: str, within_s: float = 20.0) -> float:
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
def nodes(connect: Callable[[], Any]) -> Iterator[list[ClusterNode]]:
    made: list[ClusterNode] = []
    yield made
    for node in made:
        node.stop()


def _node(nodes: list[ClusterNode], connect: Callable[[], Any], name: str) -> ClusterNode:
    node = ClusterNode(connect, name, ACCOUNTS, lease_s=LEASE_S, renew_s=RENEW_S)
    nodes.append(node)
    node.start()
    return node


def _owners(connect: Callable[[], Any]) -> dict[str, str | None]:
    with connect() as conn:
        return {row.account: row.owner for row in leases.leases(conn)}


def test_two_then_three_nodes_share_every_account_once(
    nodes: list[ClusterNode], connect: Callable[[], Any]
) -> None:
    a = _node(nodes, connect, "a")
    assert set(a.tenure.held()) == set(ACCOUNTS)  # alone: all of them at the first round
    b = _node(nodes, connect, "b")
    _until(lambda: len(a.tenure.held()) == 4 and len(b.tenure.held()) == 3, "4/3 split")
    c = _node(nodes, connect, "c")
    _until(
        lambda: (
            sorted(len(n.tenure.held()) for n in (a, b, c)) == [1, 3, 3]
            or sorted(len(n.tenure.held()) for n in (a, b, c)) == [2, 2, 3]
        ),
        "three-way split",
    )
    held = [set(n.tenure.held()) for n in (a, b, c)]
    assert set().union(*held) == set(ACCOUNTS)
    assert sum(len(h) for h in held) == len(ACCOUNTS)  # no account on two nodes
    owners = _owners(connect)
    for node, mine in zip((a, b, c), held, strict=True):
        assert {acct for acct, owner in owners.items() if owner == node.owner} == mine


def test_a_dead_nodes_accounts_are_taken_over_within_lease_plus_renew(
    nodes: list[ClusterNode], connect: Callable[[], Any]
) -> None:
    a = _node(nodes, connect, "a")
    b = _node(nodes, connect, "b")
    _until(lambda: len(b.tenure.held()) == 3, "b holds its share")
    orphans = set(b.tenure.held())
    b._stop.set()  # dies: no more renewals, nothing handed back
    died = time.monotonic()
    _until(lambda: set(a.tenure.held()) == set(ACCOUNTS), "a takes everything over")
    took = time.monotonic() - died
    assert took < LEASE_S + RENEW_S * 4  # bound: lease + renew, plus a round's own time
    assert orphans <= set(a.tenure.held())
    # The dead node's holdings stopped being sendable before its leases could expire.
    assert all(not h.valid() for h in b.tenure.holdings())
    nodes.remove(b)


def test_a_clean_stop_hands_back_at_once(
    nodes: list[ClusterNode], connect: Callable[[], Any]
) -> None:
    a = _node(nodes, connect, "a")
    b = _node(nodes, connect, "b")
    _until(lambda: len(b.tenure.held()) == 3, "b holds its share")
    b.stop()
    nodes.remove(b)
    waited = _until(lambda: set(a.tenure.held()) == set(ACCOUNTS), "a takes them at once")
    assert waited < LEASE_S  # released, not expired


def test_a_node_that_cannot_reach_postgresql_stops_sending_before_its_lease_ends(
    nodes: list[ClusterNode], connect: Callable[[], Any]
) -> None:
    a = _node(nodes, connect, "a")
    holdings = a.tenure.holdings()
    assert all(h.valid() for h in holdings)

    def broken() -> Any:
        raise psycopg.OperationalError("connection refused")

    a.connect = broken
    a._close()
    _until(lambda: a.last_error is not None, "a round fails")
    _until(lambda: all(a.tenure.holding(acct) is None for acct in ACCOUNTS), "self-fenced")
    with connect() as conn:
        rows = {r.account: r.expires_in_s for r in leases.leases(conn)}
    # It stopped with time to spare: no lease had expired in the ledger when it did.
    assert all(left > -LEASE_S for left in rows.values())
