"""The cluster as ``tagger status`` shows it: nodes, who holds which account, claims in doubt.

Read in one short read-only pass over the ledger (:func:`read_view`); the
judging (an account no node holds, claims in doubt) is
:mod:`tagger.monitor.checks`'.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tagger.cluster import claims, leases
from tagger.cluster.claims import Claim
from tagger.cluster.leases import LeaseRow, NodeRow

__all__ = ["ClusterView", "read_view"]

# Claims in doubt listed one by one (the counts cover them all).
LISTED_IN_DOUBT = 50


@dataclass(frozen=True)
class ClusterView:
    """The cluster at one moment (ages in seconds, by the database's clock).

    ``live_within_s``: a node is live when it beat within this span (the
    lease length); ``in_doubt`` counts claims in doubt per account and
    ``doubts`` lists the oldest of them.
    """

    nodes: tuple[NodeRow, ...]
    leases: tuple[LeaseRow, ...]
    in_doubt: dict[str, int]
    doubts: tuple[Claim, ...]
    live_within_s: float
    # How long an account may go unheld before it is a warning (a takeover's bound).
    unheld_after_s: float = 0.0

    def live(self) -> list[NodeRow]:
        """Return the nodes that beat recently and did not leave."""
        return [n for n in self.nodes if not n.left and n.seen_s < self.live_within_s]

    def node_of(self, owner: str | None) -> str | None:
        """Return the name of the node ``owner`` is an incarnation of (None: no owner)."""
        if owner is None:
            return None
        for node in self.nodes:
            if node.owner == owner:
                return node.node
        return owner.split("#", 1)[0]

    def unheld(self, accounts: list[str] | None = None, for_s: float = 0.0) -> list[LeaseRow]:
        """Return the leases (of ``accounts``, default all) no node has held for ``for_s`` s.

        A lease is unheld from its expiry (a released one expires when released).
        """
        return [
            row
            for row in self.leases
            if (accounts is None or row.account in accounts)
            and (row.owner is None or row.expires_in_s <= 0)
            and -row.expires_in_s >= for_s
        ]


def read_view(conn: Any, live_within_s: float, unheld_after_s: float = 0.0) -> ClusterView:
    """Read the cluster's tables on the psycopg connection ``conn``."""
    return ClusterView(
        unheld_after_s=unheld_after_s,
        nodes=tuple(leases.nodes(conn)),
        leases=tuple(leases.leases(conn)),
        in_doubt=claims.in_doubt_counts(conn),
        doubts=tuple(claims.in_doubt(conn, limit=LISTED_IN_DOUBT)),
        live_within_s=live_within_s,
    )
