"""Claims before applies, and the claims left in doubt by a takeover.

Before an apply is sent, its (account, message, tag) is claimed in a fenced
transaction (:func:`claim`): the lease is checked at the claimer's epoch and
the claim inserted; a claim already there that is not this owner's at this
epoch means the pair is someone else's or in doubt, and it is not sent. The
claim's outcome is the pair's ``applied`` row; an apply known not to have
been sent or to have failed deletes its claim (:func:`withdraw`).

A claim whose owner or epoch is not the account's current lease and whose
pair has no ``applied`` row is **in doubt**: its request may or may not have
reached Mimecast. It is never re-sent blindly; :mod:`tagger.cluster.readback`
resolves it by reading back which messages carry the tag.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Literal

from tagger.cluster.dbtime import NOW_US
from tagger.cluster.tenure import IDLE_LIMIT, idle_limit
from tagger.state.errors import LeaseLost

__all__ = ["Claim", "ClaimAnswer", "claim", "forget", "in_doubt", "in_doubt_counts", "withdraw"]

# Why a pair was not sent: its claim is another owner's, or in doubt after a takeover.
IN_DOUBT = (
    "this (message, tag) is claimed by another node or in doubt after a takeover; "
    "it is read back, never re-sent blindly (see `tagger claims`)"
)

# ``mine``: claimed now (or already this owner's at this epoch): send it.
# ``taken``: another owner's at the current epoch, or in doubt: do not send.
ClaimAnswer = Literal["mine", "taken"]


@dataclass(frozen=True, slots=True)
class Claim:
    """One claim in doubt: who claimed the pair, at which epoch, how many seconds ago."""

    account: str
    message_id: str
    tag_id: str
    rule_id: str
    owner: str
    epoch: int
    age_s: float


_LEASE_CHECK = (
    "SELECT 1 FROM leases WHERE account = %s AND owner = %s AND epoch = %s"
    f" AND expires_at > {NOW_US} FOR SHARE"
)


def claim(
    conn: Any,
    account: str,
    message_id: str,
    tag_id: str,
    rule_id: str,
    owner: str,
    epoch: int,
    idle_s: float = 5.0,
) -> ClaimAnswer:
    """Claim one pair for ``owner`` at ``epoch``; LeaseLost when the lease is not ours then.

    ``idle_s``: PostgreSQL ends the transaction if it sits idle longer (a
    node stopped mid-claim), so a takeover does not wait on its lease row.
    """
    with conn.transaction():
        conn.execute(IDLE_LIMIT, [idle_limit(idle_s)])
        if conn.execute(_LEASE_CHECK, [account, owner, epoch]).fetchone() is None:
            raise LeaseLost(f"this node no longer holds the lease of account {account!r}")
        row = conn.execute(
            "INSERT INTO claims (account, message_id, tag_id, rule_id, owner, epoch, claimed_at)"
            f" VALUES (%s, %s, %s, %s, %s, %s, {NOW_US}) ON CONFLICT DO NOTHING RETURNING 1",
            [account, message_id, tag_id, rule_id, owner, epoch],
        ).fetchone()
        if row is not None:
            return "mine"
        held = conn.execute(
            "SELECT owner, epoch FROM claims WHERE account = %s AND message_id = %s"
            " AND tag_id = %s",
            [account, message_id, tag_id],
        ).fetchone()
    return "mine" if held is not None and (held[0], int(held[1])) == (owner, epoch) else "taken"


def withdraw(conn: Any, account: str, message_id: str, tag_id: str, owner: str, epoch: int) -> None:
    """Delete this owner's claim of a pair whose apply was not sent or definitely failed.

    Not fenced: the claim is this owner's at this epoch, and what it says
    (nothing reached Mimecast) stays true whoever holds the lease now.
    """
    with conn.transaction():
        conn.execute(
            "DELETE FROM claims WHERE account = %s AND message_id = %s AND tag_id = %s"
            " AND owner = %s AND epoch = %s",
            [account, message_id, tag_id, owner, epoch],
        )


def forget(conn: Any, account: str, pairs: Iterable[tuple[str, str]]) -> int:
    """Delete the claims of ``pairs`` (message, tag) of ``account`` (resolved or released)."""
    rows = sorted(set(pairs))
    if not rows:
        return 0
    with conn.transaction():
        cur = conn.execute(
            "DELETE FROM claims WHERE account = %s AND (message_id, tag_id) IN"
            " (SELECT * FROM unnest(%s::text[], %s::text[]))",
            [account, [m for m, _ in rows], [t for _, t in rows]],
        )
        return int(cur.rowcount)


_IN_DOUBT = (
    "SELECT c.account, c.message_id, c.tag_id, c.rule_id, c.owner, c.epoch,"
    f" ({NOW_US} - c.claimed_at) / 1e6 FROM claims c JOIN leases l ON l.account = c.account"
    " WHERE (l.owner IS NULL OR c.owner <> l.owner OR c.epoch <> l.epoch"
    f" OR l.expires_at <= {NOW_US}) AND NOT EXISTS (SELECT 1 FROM applied a"
    " WHERE a.account = c.account AND a.message_id = c.message_id AND a.tag_id = c.tag_id)"
)


def in_doubt(conn: Any, account: str | None = None, limit: int = 10_000) -> list[Claim]:
    """Return the claims in doubt (of ``account``, or every account's), oldest first."""
    sql = _IN_DOUBT + (" AND c.account = %s" if account is not None else "")
    params: list[object] = [] if account is None else [account]
    rows = conn.execute(sql + " ORDER BY c.claimed_at LIMIT %s", [*params, limit]).fetchall()
    return [
        Claim(str(a), str(m), str(t), str(r), str(o), int(e), float(s))
        for a, m, t, r, o, e, s in rows
    ]


def in_doubt_counts(conn: Any) -> dict[str, int]:
    """Return how many claims are in doubt per account (accounts with none are absent)."""
    rows = conn.execute(
        f"SELECT account, count(*) FROM ({_IN_DOUBT}) AS d (account, m, t, r, o, e, s)"
        " GROUP BY account"
    ).fetchall()
    return {str(a): int(n) for a, n in rows}


def prune_settled(conn: Any, older_than_s: float) -> int:
    """Delete claims whose pair is recorded applied and that are older than ``older_than_s``."""
    with conn.transaction():
        cur = conn.execute(
            "DELETE FROM claims c USING applied a WHERE a.account = c.account"
            " AND a.message_id = c.message_id AND a.tag_id = c.tag_id"
            f" AND c.claimed_at < {NOW_US} - %s",
            [round(older_than_s * 1e6)],
        )
        return int(cur.rowcount)
