"""Balancing accounts across nodes without a leader: each node decides alone.

Every node knows the same accounts (one config) and sees the same live
nodes (the ledger's heartbeats), so each computes the same fair share and
takes free leases up to it, or hands back what it holds beyond it. Pure
functions: :mod:`tagger.cluster.node` runs them on what it read.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Sequence
from dataclasses import dataclass

__all__ = ["Moves", "fair_share", "plan_moves"]


def fair_share(accounts: int, live: int) -> int:
    """Return how many of ``accounts`` one of ``live`` nodes may hold (at least one node)."""
    return math.ceil(accounts / max(1, live)) if accounts else 0


@dataclass(frozen=True, slots=True)
class Moves:
    """What a node does this round: leases to take and to hand back (names sorted)."""

    take: tuple[str, ...]
    hand_back: tuple[str, ...]


def plan_moves(held: Collection[str], free: Sequence[str], share: int) -> Moves:
    """Return the moves that bring this node's ``held`` accounts to ``share``.

    Takes from ``free`` (free or expired leases, in the order given) up to
    the share; hands back the accounts beyond it, the last in name order
    first (a stable choice, so two rounds agree).
    """
    mine = sorted(held)
    if len(mine) > share:
        return Moves((), tuple(mine[share:]))
    wanted = share - len(mine)
    take = tuple(a for a in free if a not in held)[:wanted]
    return Moves(take, ())
