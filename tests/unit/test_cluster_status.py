"""The cluster's part of `tagger status` and `status --check`, from a view read earlier (pure)."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tagger import exitcodes
from tagger.cli.statuscluster import cluster_json, cluster_lines
from tagger.cluster.claims import Claim
from tagger.cluster.leases import LeaseRow, NodeRow
from tagger.cluster.view import ClusterView
from tagger.monitor.checks import Thresholds, findings
from tagger.monitor.snapshot import Snapshot

NOW = datetime(2026, 12, 1, tzinfo=UTC)
VIEW = ClusterView(
    nodes=(
        NodeRow("a#1", "a", "h1", 10, 1.0, False),
        NodeRow("b#2", "b", "h2", 11, 90.0, False),
    ),
    leases=(
        LeaseRow("north", "a#1", 3, 15.0, 600.0),
        LeaseRow("south", "b#2", 2, -70.0, 900.0),  # b stopped renewing 70 s ago
        LeaseRow("west", None, 4, -5.0, None),  # handed back 5 s ago
    ),
    in_doubt={"south": 2},
    doubts=(Claim("south", "m1", "t1", "r1", "b#2", 2, 75.0),),
    live_within_s=20.0,
    unheld_after_s=30.0,
)


def _snap(view: ClusterView | None, error: str | None = None) -> Snapshot:
    return Snapshot(
        now=NOW,
        state_path=Path("/x/state.db"),
        state_exists=True,
        interval=timedelta(minutes=5),
        ingestion_delay=timedelta(0),
        longest_schedule=timedelta(minutes=5),
        accounts=("north", "south", "west", "east"),
        cluster=view,
        cluster_error=error,
    )


def _cluster_texts(snap: Snapshot) -> list[str]:
    return [f.text for f in findings(snap, Thresholds()) if "node" in f.text or "doubt" in f.text]


def test_check_warns_on_accounts_no_node_holds_past_the_takeover_bound_and_on_doubts() -> None:
    found = [f for f in findings(_snap(VIEW), Thresholds()) if f.level]
    texts = [f.text for f in found]
    unheld = [t for t in texts if "held by no node" in t]
    # south: unheld 70 s (> 30 s); west: 5 s (a handover); east: no lease row at all.
    assert unheld and "east, south" in unheld[0] and "west" not in unheld[0]
    assert any("account south: 2 applies in doubt" in t for t in texts)
    assert all(f.level == exitcodes.NAGIOS_WARNING for f in found if f.text in unheld)


def test_a_quiet_cluster_has_no_finding_and_no_cluster_none() -> None:
    quiet = replace(
        VIEW, leases=tuple(replace(r, owner="a#1", expires_in_s=10.0) for r in VIEW.leases)
    )
    quiet = replace(quiet, in_doubt={}, doubts=())
    snap = replace(_snap(quiet), accounts=("north", "south", "west"))
    assert _cluster_texts(snap) == []
    assert _cluster_texts(_snap(None)) == []
    assert cluster_lines(None, None) == [] and cluster_json(None, None) is None


def test_an_unreadable_cluster_is_a_warning_that_says_where() -> None:
    snap = _snap(None, "cannot read the cluster at 127.0.0.1:5/db: refused")
    assert _cluster_texts(snap) == []
    assert any("cannot read the cluster" in f.text for f in findings(snap, Thresholds()))


def test_text_and_json_show_nodes_holders_and_doubts() -> None:
    text = "\n".join(cluster_lines(VIEW, None))
    assert "cluster: 1 node live" in text
    assert "node b (h2 pid 11): silent" in text
    assert "account north: held by a (epoch 3" in text
    assert "account south: HELD BY NO NODE; 2 applies in doubt" in text
    assert "south message m1 tag t1 (claimed by b, epoch 2)" in text
    data = cluster_json(VIEW, None)
    assert data is not None
    assert [(n["node"], n["live"]) for n in data["nodes"]] == [("a", True), ("b", False)]
    assert [(r["account"], r["node"]) for r in data["leases"]] == [
        ("north", "a"),
        ("south", None),
        ("west", None),
    ]
    assert data["in_doubt"] == {"south": 2}
