"""The cluster's part of ``tagger status``: nodes, who holds which account, applies in doubt."""

from __future__ import annotations

from typing import Any

from tagger.cluster.view import ClusterView
from tagger.words import plural

__all__ = ["cluster_json", "cluster_lines"]

# Applies in doubt listed one by one in the text (`tagger claims` lists them all).
SHOWN_DOUBTS = 5


def cluster_lines(view: ClusterView | None, error: str | None) -> list[str]:
    """Return the cluster's lines for people (none without a cluster)."""
    if error is not None:
        return [f"cluster: {error}"]
    if view is None:
        return []
    live = view.live()
    lines = [f"cluster: {plural(len(live), 'node')} live"]
    for node in view.nodes:
        state = "left" if node.left else ("live" if node in live else "silent")
        lines.append(
            f"  node {node.node} ({node.host} pid {node.pid}): {state},"
            f" last seen {node.seen_s:.0f} s ago"
        )
    for row in view.leases:
        if row.owner is None or row.expires_in_s <= 0:
            holder = "HELD BY NO NODE"
        else:
            held = "" if row.held_for_s is None else f", held {row.held_for_s:.0f} s"
            holder = (
                f"held by {view.node_of(row.owner)} (epoch {row.epoch}{held},"
                f" renewed {row.expires_in_s:.0f} s before expiry)"
            )
        doubt = view.in_doubt.get(row.account, 0)
        extra = f"; {plural(doubt, 'apply', 'applies')} in doubt" if doubt else ""
        lines.append(f"  account {row.account}: {holder}{extra}")
    if view.doubts:
        total = sum(view.in_doubt.values())
        lines.append(
            f"  {plural(total, 'apply', 'applies')} in doubt (never re-sent blindly;"
            " `tagger claims` lists them, `tagger claims release` after checking):"
        )
        for claim in view.doubts[:SHOWN_DOUBTS]:
            lines.append(
                f"    {claim.account} message {claim.message_id} tag {claim.tag_id}"
                f" (claimed by {view.node_of(claim.owner)}, epoch {claim.epoch})"
            )
    return lines


def cluster_json(view: ClusterView | None, error: str | None) -> dict[str, Any] | None:
    """Return the cluster as JSON-able data (None without a cluster)."""
    if error is not None:
        return {"error": error}
    if view is None:
        return None
    live = {n.owner for n in view.live()}
    return {
        "nodes": [
            {
                "node": n.node,
                "owner": n.owner,
                "host": n.host,
                "pid": n.pid,
                "seen_s": round(n.seen_s, 1),
                "live": n.owner in live,
                "left": n.left,
            }
            for n in view.nodes
        ],
        "leases": [
            {
                "account": r.account,
                "node": view.node_of(r.owner) if r.expires_in_s > 0 else None,
                "owner": r.owner if r.expires_in_s > 0 else None,
                "epoch": r.epoch,
                "expires_in_s": round(r.expires_in_s, 1),
                "held_for_s": None if r.held_for_s is None else round(r.held_for_s, 1),
            }
            for r in view.leases
        ],
        "in_doubt": dict(view.in_doubt),
    }
