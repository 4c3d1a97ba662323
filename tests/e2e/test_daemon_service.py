"""The daemon (`tagger run`) as a real process: scheduled cycles against the simulator,
late-indexed mail, reload on SIGHUP, stop on SIGTERM, and the single-writer lock.

The schedule is 2 s with no jitter; tests wait on observable conditions (the
simulator's applied tags, log events) with bounded deadlines.
"""

from __future__ import annotations

import re
import signal
from datetime import UTC, datetime
from pathlib import Path

from tagger.rules import load_rules
from tagger.simulator import Simulator, SimulatorConfig
from tagger.state import StateStore
from tests.support.daemon import (
    Running,
    applied_pairs,
    expected_pairs,
    repeated_applies,
    run_tagger,
    wait_until,
    write_config,
)

TRIAGE_RULES = """\
rules:
  - id: triage-inbound
    description: every inbound message goes to triage
    search:
      route: [inbound]
    tags: [Review/Needs triage]
"""

BROKEN_RULES = """\
rules:
  - id: triage-inbound
    description: every inbound message goes to triage
    search:
      route: [inbound]
    tags: [Review/Needs triage]
    priorty: 5
"""

FLAG_RULES = """\
rules:
  - id: flag-inbound
    description: every inbound message is flagged instead
    search:
      route: [inbound]
    tags: [Review/False positive]
"""


def tag_id(sim: Simulator, path: str) -> str:
    return next(t["id"] for t in sim.smart_tags() if t["path"] == path)


def watermarks(state: Path) -> list[datetime]:
    with StateStore.open(state, lock=False, readonly=True) as store:
        return [mark for _a, _k, mark in store.watermarks()]


def test_late_indexed_messages_are_tagged_by_later_cycles(tmp_path: Path) -> None:
    config = SimulatorConfig(seed=41, messages=40, late_fraction=0.3, late_delay_s=20)
    with Simulator(config) as sim:
        daemon = Running("run", "-c", str(write_config(tmp_path, sim)))
        try:
            daemon.wait_event("cycle_finished")
            wait_until(lambda: applied_pairs(sim) == expected_pairs(sim), 15, "the history")

            added_at = sim.now()
            new = sim.add_messages(80)
            late = {m.id for m in new if m.indexed > m.received}
            expected = expected_pairs(sim)
            late_expected = {p for p in expected if p[0] in late}
            assert late_expected, "some late-indexed message must need a tag"

            # A cycle that started after the arrival searched past the late mail
            # while it was not yet searchable: the watermark went past it.
            def passed() -> bool:
                return any(
                    datetime.fromisoformat(e["started"]).timestamp() >= added_at + 1
                    for e in daemon.named("cycle_finished")
                )

            wait_until(passed, 10, "a cycle started after the new mail arrived")
            assert sim.now() < min(m.indexed for m in new if m.id in late)
            assert not applied_pairs(sim) & late_expected
            assert min(watermarks(tmp_path / "state.db")).timestamp() > max(m.received for m in new)

            # The overlap brings them back once they are indexed.
            wait_until(lambda: applied_pairs(sim) >= expected, 20, "the late mail to be tagged")
        finally:
            assert daemon.stop() == 0, daemon.stderr
        assert applied_pairs(sim) == expected_pairs(sim)
        assert repeated_applies(sim) == {}


def test_sighup_keeps_old_rules_on_a_broken_file_and_applies_a_valid_change(
    tmp_path: Path,
) -> None:
    with Simulator(SimulatorConfig(seed=42, messages=30)) as sim:
        rules = tmp_path / "triage.yaml"
        rules.write_text(TRIAGE_RULES)
        triage, flag = tag_id(sim, "Review/Needs triage"), tag_id(sim, "Review/False positive")
        daemon = Running("run", "-c", str(write_config(tmp_path, sim, rules=[rules])))
        try:
            old = load_rules([rules])
            wait_until(lambda: applied_pairs(sim) == expected_pairs(sim, old), 15, "first tags")
            assert {t for _m, t in applied_pairs(sim)} == {triage}

            rules.write_text(BROKEN_RULES)
            daemon.signal(signal.SIGHUP)
            rejected = daemon.wait_event("reload_rejected")[0]
            located = " ".join(rejected["problems"])
            assert f"{rules}:7" in located and "priorty" in located, rejected

            # Old rules keep running on new mail.
            new = {m.id for m in sim.add_messages(20)}
            want = {p for p in expected_pairs(sim, old) if p[0] in new}
            assert want
            wait_until(lambda: applied_pairs(sim) >= want, 15, "old rules on new mail")

            rules.write_text(FLAG_RULES)
            daemon.signal(signal.SIGHUP)
            daemon.wait_event("reload_done")
            newer = {m.id for m in sim.add_messages(20)}
            flagged = {p for p in expected_pairs(sim, load_rules([rules])) if p[0] in newer}
            assert flagged and {t for _m, t in flagged} == {flag}
            wait_until(lambda: applied_pairs(sim) >= flagged, 15, "new rules on new mail")
            assert not {p for p in applied_pairs(sim) if p[0] in newer and p[1] == triage}
        finally:
            assert daemon.stop() == 0, daemon.stderr
        assert repeated_applies(sim) == {}


def test_sigterm_mid_cycle_then_restart_loses_and_repeats_nothing(tmp_path: Path) -> None:
    with Simulator(SimulatorConfig(seed=43, messages=600, latency_ms=15)) as sim:
        cfg = str(write_config(tmp_path, sim))
        daemon = Running("run", "-c", cfg)
        wait_until(lambda: len(applied_pairs(sim)) >= 10, 30, "the first cycle to apply tags")
        daemon.signal(signal.SIGTERM)
        assert daemon.wait(60) == 0, daemon.stderr
        finished = daemon.named("cycle_finished")
        assert finished and finished[-1]["interrupted"] is True, finished
        assert daemon.named("daemon_stopped")

        # Every apply the simulator answered was recorded before the exit.
        partial = applied_pairs(sim)
        with StateStore.open(tmp_path / "state.db", lock=False, readonly=True) as store:
            recorded = sum(store.tags_per_rule().values())
        assert recorded == len(partial)
        expected = expected_pairs(sim)

        again = run_tagger("once", "-c", cfg)
        assert again.returncode == 0, again.stderr
        # The restart finished the interrupted work (it was not marked done).
        scanned = re.search(r"(\d+) scanned", again.stdout)
        assert scanned is not None and int(scanned.group(1)) > 0, again.stdout
        assert applied_pairs(sim) == expected
        assert repeated_applies(sim) == {}


def test_a_second_daemon_refuses_while_dry_runs_work_alongside(tmp_path: Path) -> None:
    with Simulator(SimulatorConfig(seed=44, messages=60)) as sim:
        cfg = str(write_config(tmp_path, sim))
        state = tmp_path / "state.db"
        first = Running("run", "-c", cfg)
        try:
            first.wait_event("cycle_finished")
            for command in ("run", "once"):
                second = run_tagger(command, "-c", cfg, timeout=30)
                assert second.returncode == 1, (command, second.stderr)
                assert str(state) in second.stderr, second.stderr
                assert f"pid {first.pid}" in second.stderr, second.stderr
            calls = sim.stats()["endpoints"]["apply"]["total"]
            dry = run_tagger("once", "-c", cfg, "--dry-run")
            assert dry.returncode == 0, dry.stderr
            dry_daemon = run_tagger("run", "-c", cfg, "--dry-run", "--max-cycles", "1")
            assert dry_daemon.returncode == 0, dry_daemon.stderr
            assert sim.stats()["endpoints"]["apply"]["total"] == calls
            status = run_tagger("status", "-c", cfg)
            assert status.returncode == 0 and "status ok" in status.stdout, status.stderr
            assert first.proc.poll() is None
        finally:
            assert first.stop() == 0, first.stderr
        assert applied_pairs(sim) == expected_pairs(sim)


def test_run_stops_by_itself_after_max_cycles(tmp_path: Path) -> None:
    with Simulator(SimulatorConfig(seed=45, messages=20)) as sim:
        done = run_tagger("run", "-c", str(write_config(tmp_path, sim)), "--max-cycles", "2")
        assert done.returncode == 0, done.stderr
        assert done.stderr.count('"cycle_finished"') == 2
        assert datetime.now(UTC) > min(watermarks(tmp_path / "state.db"))
