"""End to end, one cycle at a time: `tagger once` (live and dry run) against the simulator.

Real processes, a real SQLite state file and the simulator on 127.0.0.1; the
expected tags are computed from the simulator's mailbox with the rule
evaluator alone.
"""

from __future__ import annotations

import re
from pathlib import Path

from tagger.simulator import Simulator, SimulatorConfig
from tagger.state import StateStore
from tests.support.daemon import (
    applied_pairs,
    audit_records,
    expected_pairs,
    file_digest,
    repeated_applies,
    run_tagger,
    write_config,
)


def applies(sim: Simulator) -> int:
    """Return the apply calls the simulator answered, successful or not."""
    return int(sim.stats()["endpoints"]["apply"]["total"])


def planned(records: list[dict[str, object]], *, dry_run: bool, mode: str) -> set[tuple[str, str]]:
    """Return the (message, tag id) pairs an audit report planned for rules of ``mode``."""
    out: set[tuple[str, str]] = set()
    for r in records:
        if r["dry_run"] is dry_run and r["rule_mode"] == mode:
            tags = r["planned_tag_ids"]
            assert isinstance(tags, list)
            out.update((str(r["message_id"]), str(t)) for t in tags)
    return out


def state_snapshot(path: Path) -> tuple[object, ...]:
    """Return what a run could change in the state file: bytes, watermarks, applied, runs."""
    with StateStore.open(path, lock=False, readonly=True) as store:
        return (
            file_digest(path),
            file_digest(Path(f"{path}-wal")),
            store.watermarks(),
            store.tags_per_rule(),
            [(r.id, r.status) for r in store.last_runs()],
        )


def test_once_applies_exactly_the_expected_tags_and_a_rerun_applies_none(tmp_path: Path) -> None:
    with Simulator(SimulatorConfig(seed=11, messages=300)) as sim:
        cfg = str(write_config(tmp_path, sim))
        first = run_tagger("once", "-c", cfg)
        assert first.returncode == 0, first.stderr
        expected = expected_pairs(sim)
        assert len(expected) > 50
        assert applied_pairs(sim) == expected
        assert repeated_applies(sim) == {}
        calls = applies(sim)
        assert calls == len(expected)

        second = run_tagger("once", "-c", cfg)
        assert second.returncode == 0, second.stderr
        assert applies(sim) == calls
        assert repeated_applies(sim) == {}
        assert "0 tags applied" in second.stdout


def test_dry_run_applies_nothing_and_plans_exactly_what_live_applies(tmp_path: Path) -> None:
    with Simulator(SimulatorConfig(seed=12, messages=300)) as sim:
        cfg = str(write_config(tmp_path, sim))
        state = tmp_path / "state.db"

        # Fresh install: a dry run must not even create the state file.
        dry = run_tagger("once", "-c", cfg, "--dry-run", "--audit", str(tmp_path / "dry1.jsonl"))
        assert dry.returncode == 0, dry.stderr
        assert "tags would apply" in dry.stdout
        assert applies(sim) == 0
        assert not state.exists()
        # Dry-run entries never go to the live file: they go to its .dry-run sibling.
        assert not (tmp_path / "dry1.jsonl").exists()
        assert str(tmp_path / "dry1.dry-run.jsonl") in dry.stdout
        plan = planned(audit_records(tmp_path / "dry1.dry-run.jsonl"), dry_run=True, mode="enforce")
        assert len(plan) > 50

        live = run_tagger("once", "-c", cfg, "--audit", str(tmp_path / "live1.jsonl"))
        assert live.returncode == 0, live.stderr
        assert applied_pairs(sim) == plan == expected_pairs(sim)

        # With state: new mail arrives, a dry run leaves the state file as it was
        # and plans exactly the tags the next live run applies.
        sim.add_messages(60)
        before_pairs, before_calls = applied_pairs(sim), applies(sim)
        snapshot = state_snapshot(state)
        dry = run_tagger("once", "-c", cfg, "--dry-run", "--audit", str(tmp_path / "dry2.jsonl"))
        assert dry.returncode == 0, dry.stderr
        assert applies(sim) == before_calls
        assert state_snapshot(state) == snapshot
        plan = planned(audit_records(tmp_path / "dry2.dry-run.jsonl"), dry_run=True, mode="enforce")
        assert plan, "the new mail should need some tags"

        live = run_tagger("once", "-c", cfg)
        assert live.returncode == 0, live.stderr
        assert applied_pairs(sim) - before_pairs == plan
        assert applied_pairs(sim) == expected_pairs(sim)
        assert repeated_applies(sim) == {}


def test_audit_mode_rule_applies_nothing_but_is_reported(tmp_path: Path) -> None:
    with Simulator(SimulatorConfig(seed=13, messages=300)) as sim:
        cfg = str(write_config(tmp_path, sim))
        live = run_tagger("once", "-c", cfg)
        assert live.returncode == 0, live.stderr
        enforce = expected_pairs(sim)
        audit_only = expected_pairs(sim, modes=("audit",)) - enforce
        assert audit_only, "the shipped rules have an audit-mode rule that matches mail"
        assert not applied_pairs(sim) & audit_only
        records = audit_records(tmp_path / "audit.jsonl")
        assert planned(records, dry_run=False, mode="audit") == audit_only
        assert {r["rule"] for r in records if r["mode"] == "audit"} == {"greymail-bulk"}
        assert {r["mode"] for r in records} == {"live", "audit"}
        assert re.search(
            r"rule greymail-bulk \[audit-only: mode audit\]: [1-9]\d* matched, 0 tags applied",
            live.stdout,
        )
        # Its matches are audit-only in the audit file too (would-apply is a dry run's).
        assert {r["outcome"] for r in records if r["rule"] == "greymail-bulk"} == {"audit"}


def test_capped_search_windows_are_split_and_nothing_is_lost(tmp_path: Path) -> None:
    with Simulator(SimulatorConfig(seed=14, messages=300, search_cap=20)) as sim:
        window = {
            "overlap": "10m",
            "ingestion_delay": "0s",
            "initial_lookback": "24h",
            "max_catchup": "7d",
            "split_min": "1s",
            "search_cap": 20,
        }
        cfg = str(write_config(tmp_path, sim, window=window))
        live = run_tagger("once", "-c", cfg)
        assert live.returncode == 0, live.stderr
        assert applied_pairs(sim) == expected_pairs(sim)
        assert repeated_applies(sim) == {}
        splits = re.search(r"(\d+) window splits", live.stdout)
        assert splits is not None and int(splits.group(1)) > 0, live.stdout
        status = run_tagger("status", "-c", cfg)
        assert status.returncode == 0, status.stderr
        recorded = re.search(r"window_splits: (\d+)", status.stdout)
        assert recorded is not None and int(recorded.group(1)) == int(splits.group(1))
