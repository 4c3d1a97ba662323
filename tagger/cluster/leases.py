"""Account leases in the ledger: take, renew, hand back, and who is alive.

Each function runs one short transaction on a psycopg connection (in
autocommit mode; the transaction is explicit) and judges every expiry by the
database's clock (:data:`~tagger.cluster.dbtime.NOW_US`), never a node's.
A lease is (owner, epoch, expires_at): taking a free or expired lease raises
its epoch by one, so whatever an older holder still tries to write at its
old epoch is refused (:class:`tagger.cluster.tenure.LeaseFence`).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tagger.cluster.dbtime import NOW_US, seconds_us

__all__ = [
    "LeaseRow",
    "NodeRow",
    "ensure_accounts",
    "heartbeat",
    "leave",
    "live_nodes",
    "release",
    "renew",
    "take",
    "takeable",
]


@dataclass(frozen=True, slots=True)
class LeaseRow:
    """One account's lease as the ledger has it (``age_s``: since taken; negative: none)."""

    account: str
    owner: str | None
    epoch: int
    expires_in_s: float
    held_for_s: float | None


@dataclass(frozen=True, slots=True)
class NodeRow:
    """One node as the ledger has it: its last heartbeat ``seen_s`` seconds ago."""

    owner: str
    node: str
    host: str
    pid: int
    seen_s: float
    left: bool


def ensure_accounts(conn: Any, accounts: Iterable[str]) -> None:
    """Create a free lease row for each account that has none."""
    names = sorted(set(accounts))
    if names:
        with conn.transaction():
            conn.execute(
                "INSERT INTO leases (account) SELECT unnest(%s::text[]) ON CONFLICT DO NOTHING",
                [names],
            )


def heartbeat(conn: Any, owner: str, node: str, host: str, pid: int) -> None:
    """Record that ``owner`` is alive now (creating its row on the first beat)."""
    with conn.transaction():
        conn.execute(
            "INSERT INTO cluster_nodes (owner, node, host, pid, started_at, seen_at)"
            f" VALUES (%s, %s, %s, %s, {NOW_US}, {NOW_US})"
            f" ON CONFLICT (owner) DO UPDATE SET seen_at = {NOW_US}, left_at = NULL",
            [owner, node, host, pid],
        )


def leave(conn: Any, owner: str) -> None:
    """Mark ``owner`` as gone (a clean stop) so others stop counting it at once."""
    with conn.transaction():
        conn.execute(
            f"UPDATE cluster_nodes SET left_at = {NOW_US} WHERE owner = %s",
            [owner],
        )


def live_nodes(conn: Any, within_s: float) -> list[str]:
    """Return the owners that beat within ``within_s`` seconds and have not left."""
    rows = conn.execute(
        f"SELECT owner FROM cluster_nodes WHERE seen_at > {NOW_US} - %s AND left_at IS NULL"
        " ORDER BY owner",
        [seconds_us(within_s)],
    ).fetchall()
    return [str(r[0]) for r in rows]


def takeable(conn: Any, accounts: Iterable[str]) -> list[str]:
    """Return those of ``accounts`` whose lease is free or expired, in name order."""
    rows = conn.execute(
        "SELECT account FROM leases WHERE account = ANY(%s)"
        f" AND (owner IS NULL OR expires_at <= {NOW_US}) ORDER BY account",
        [sorted(set(accounts))],
    ).fetchall()
    return [str(r[0]) for r in rows]


def take(conn: Any, account: str, owner: str, lease_s: float) -> int | None:
    """Take ``account``'s lease if it is free or expired; returns the new epoch, else None.

    The update waits for any fenced write still running under the old epoch
    (those hold the lease row FOR SHARE) and then checks expiry again, so no
    write of the old holder can land after the takeover.
    """
    with conn.transaction():
        row = conn.execute(
            f"UPDATE leases SET owner = %s, epoch = epoch + 1, expires_at = {NOW_US} + %s,"
            f" acquired_at = {NOW_US} WHERE account = %s"
            f" AND (owner IS NULL OR expires_at <= {NOW_US}) RETURNING epoch",
            [owner, seconds_us(lease_s), account],
        ).fetchone()
    return None if row is None else int(row[0])


def renew(conn: Any, owner: str, held: Mapping[str, int], lease_s: float) -> set[str]:
    """Extend the leases ``owner`` holds at the given epochs; returns the accounts renewed.

    A lease renews only at the epoch it was taken at: an account missing
    from the answer was taken over (or released) and is lost to ``owner``.
    A lease that expired but that nobody took renews (nothing was sent
    meanwhile: the node fences itself before its lease can expire).
    """
    if not held:
        return set()
    names = sorted(held)
    with conn.transaction():
        rows = conn.execute(
            f"UPDATE leases SET expires_at = {NOW_US} + %s"
            " WHERE owner = %s AND (account, epoch) IN"
            " (SELECT * FROM unnest(%s::text[], %s::bigint[])) RETURNING account",
            [seconds_us(lease_s), owner, names, [held[a] for a in names]],
        ).fetchall()
    return {str(r[0]) for r in rows}


def release(conn: Any, account: str, owner: str, epoch: int) -> bool:
    """Hand ``account`` back (free at once) if ``owner`` still holds it at ``epoch``."""
    with conn.transaction():
        row = conn.execute(
            f"UPDATE leases SET owner = NULL, expires_at = {NOW_US}"
            " WHERE account = %s AND owner = %s AND epoch = %s RETURNING account",
            [account, owner, epoch],
        ).fetchone()
    return row is not None


def leases(conn: Any) -> list[LeaseRow]:
    """Return every account's lease, in account order."""
    rows = conn.execute(
        f"SELECT account, owner, epoch, (expires_at - {NOW_US}) / 1e6,"
        f" CASE WHEN acquired_at IS NULL OR owner IS NULL THEN NULL"
        f" ELSE ({NOW_US} - acquired_at) / 1e6 END FROM leases ORDER BY account"
    ).fetchall()
    return [
        LeaseRow(
            str(a), None if o is None else str(o), int(e), float(x), None if h is None else float(h)
        )
        for a, o, e, x, h in rows
    ]


def nodes(conn: Any) -> list[NodeRow]:
    """Return every node that beat in the last day, most recent first."""
    rows = conn.execute(
        f"SELECT owner, node, host, pid, ({NOW_US} - seen_at) / 1e6, left_at IS NOT NULL"
        f" FROM cluster_nodes WHERE seen_at > {NOW_US} - %s ORDER BY seen_at DESC",
        [seconds_us(86_400)],
    ).fetchall()
    return [
        NodeRow(str(o), str(n), str(h), int(p), float(s), bool(left))
        for o, n, h, p, s, left in rows
    ]
