"""The audit file as a write-ahead record: every apply that reached the simulator has its line.

Real processes against the simulator on 127.0.0.1: ``tagger run`` killed with
SIGKILL while it applies, and ``tagger once`` whose audit file runs out of
room part-way through the cycle (a file size limit fails the write as a full
disk does). The benchmark (``python -m bench.audit_crash``) runs 20 kills.
"""

from __future__ import annotations

import random
from collections import Counter
from pathlib import Path

import pytest

from tagger.audit import read_records
from tagger.simulator import Simulator, SimulatorConfig
from testkit.setup import TEST_WINDOW
from testkit.writeahead import audit_pairs, full_disk_run, kill_trial
from tests.support.daemon import expected_pairs, repeated_applies, run_tagger, write_config

SCHEDULE = {"interval": "1s", "jitter": "0s", "misfire_grace": "1m", "max_cycle": "1m"}


@pytest.mark.timeout(240)
def test_after_sigkills_every_applied_pair_has_its_line_and_the_report_counts_it_once(
    tmp_path: Path,
) -> None:
    rng = random.Random(3)
    # A search cap above what the mail added between kills holds in one second.
    config_sim = SimulatorConfig(
        seed=23, messages=200, latency_ms=25, latency_jitter_ms=25, search_cap=5000
    )
    with Simulator(config_sim) as sim:
        window = {**TEST_WINDOW, "search_cap": 5000}
        cfg = write_config(tmp_path, sim, schedule=SCHEDULE, window=window)
        audit = tmp_path / "audit.jsonl"
        for _ in range(3):
            while len(expected_pairs(sim) - set(sim.applied())) < 50:
                sim.add_messages(40)
            seen = kill_trial(sim, cfg, audit, rng)
            assert seen.applies > 0
            assert seen.missing == 0, f"{seen.missing} applied pairs have no audit line"
        done = run_tagger("once", "-c", str(cfg))
        assert done.returncode == 0, done.stderr
        assert set(sim.applied()) == expected_pairs(sim)
        assert repeated_applies(sim) == {}
        assert set(sim.applied()) <= audit_pairs(audit)
    records, problems = read_records([audit])
    assert problems == []
    applied = Counter((r.message_id, r.rule) for r in records if r.outcome == "applied")
    assert applied and max(applied.values()) == 1
    assert not [r for r in records if r.outcome == "applying"]
    report = run_tagger("report", str(audit))
    assert report.returncode == 0, report.stderr
    assert "applying" not in report.stdout


def test_an_audit_file_out_of_room_stops_the_applies_and_loses_no_record(tmp_path: Path) -> None:
    with Simulator(SimulatorConfig(seed=29, messages=200, latency_ms=5)) as sim:
        cfg = write_config(tmp_path, sim)
        audit = tmp_path / "audit.jsonl"
        run = full_disk_run(sim, cfg, audit, room=8_000)
        assert run.returncode == 1, run.output
        assert "cannot write the audit file" in run.output
        assert "File too large" in run.output
        assert "applies stop until it can be written" in run.output
        # It stopped part-way: some applies went out, each with its line, and not all.
        assert run.compared.applies > 0
        assert run.compared.missing == 0
        assert set(sim.applied()) != expected_pairs(sim)
        # With room again the next run finishes the work, nothing twice.
        done = run_tagger("once", "-c", str(cfg))
        assert done.returncode == 0, done.stderr
        assert set(sim.applied()) == expected_pairs(sim)
        assert repeated_applies(sim) == {}
        assert set(sim.applied()) <= audit_pairs(audit)


def test_a_live_backfill_writes_each_entry_once_and_says_how_many(tmp_path: Path) -> None:
    # Entries are written as each chunk ends and then let go: the slices' reports
    # merged at the end must not write them a second time.
    with Simulator(SimulatorConfig(seed=29, messages=150)) as sim:
        cfg = write_config(tmp_path, sim)
        audit = tmp_path / "audit.jsonl"
        done = run_tagger("backfill", "--since", "2d", "--slice", "6h", "-c", str(cfg))
        assert done.returncode == 0, done.stderr
        assert set(sim.applied()) == expected_pairs(sim)
    records, problems = read_records([audit])
    assert problems == []
    settled = [r for r in records if r.outcome != "applying"]
    keys = Counter((r.message_id, r.rule, r.outcome) for r in settled)
    assert keys and max(keys.values()) == 1, [k for k, n in keys.items() if n > 1][:5]
    said = next(line for line in done.stdout.splitlines() if line.startswith("audit report:"))
    assert f"audit report: {len(settled)} entries appended" in said, (said, len(settled))
