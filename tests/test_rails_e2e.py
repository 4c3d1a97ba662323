"""The safety rails end to end: `tagger` processes against the simulator on 127.0.0.1.

Preflight (an unwritable audit path applies nothing), blast-radius limits
(pause before the limit, resume, nothing lost or duplicated), audit-first
rollout (nothing applied until promoted, then exactly the plan) and the kill
switch.
"""

from __future__ import annotations

from pathlib import Path

from daemon_support import (
    applied_pairs,
    expected_pairs,
    repeated_applies,
    run_tagger,
    write_config,
)

from tagger.rules import load_rules
from tagger.simulator import Simulator, SimulatorConfig
from tagger.state import StateStore
from tagger.testkit import RULES_DIR


def applies(sim: Simulator) -> int:
    """Return the apply calls the simulator answered."""
    return int(sim.stats()["endpoints"]["apply"]["total"])


def test_an_unwritable_audit_path_applies_nothing_and_says_why(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the audit folder should be\n")
    with Simulator(SimulatorConfig(seed=11, messages=120)) as sim:
        cfg = str(write_config(tmp_path, sim, rollout="enforce"))
        done = run_tagger("once", "-c", cfg, "--audit", str(blocker / "audit.jsonl"))
        assert done.returncode == 1, done.stderr
        assert applies(sim) == 0
        out = done.stdout + done.stderr
        assert "preflight failed" in out and str(blocker) in out
        assert "Traceback" not in out


def test_a_rule_over_its_limit_is_paused_then_resumed_without_loss_or_duplicates(
    tmp_path: Path,
) -> None:
    with Simulator(SimulatorConfig(seed=11, messages=200)) as sim:
        cfg = str(
            write_config(tmp_path, sim, rollout="enforce", limits={"per_cycle": 4, "per_day": 1000})
        )
        first = run_tagger("once", "-c", cfg)
        assert first.returncode == 1, first.stderr
        assert "paused" in first.stdout
        by_rule: dict[str, int] = {}
        with StateStore.open(tmp_path / "state.db", lock=False, readonly=True) as store:
            for (rule, _tag), n in store.tags_per_rule().items():
                by_rule[rule] = by_rule.get(rule, 0) + n
            paused = {p.rule_id for p in store.pauses()}
        assert paused and all(n <= 4 for n in by_rule.values())
        # Resume and run until nothing is paused: exactly the expected tags, each once.
        for _ in range(100):
            for rule in paused:
                assert run_tagger("resume", rule, "-c", cfg).returncode == 0
            again = run_tagger("once", "-c", cfg)
            with StateStore.open(tmp_path / "state.db", lock=False, readonly=True) as store:
                paused = {p.rule_id for p in store.pauses()}
            if not paused and again.returncode == 0:
                break
        assert applied_pairs(sim) >= expected_pairs(sim)
        assert applied_pairs(sim) - expected_pairs(sim) == set()
        assert repeated_applies(sim) == {}


def test_a_new_rule_applies_nothing_until_promoted_then_exactly_its_plan(tmp_path: Path) -> None:
    with Simulator(SimulatorConfig(seed=11, messages=150)) as sim:
        cfg = str(write_config(tmp_path, sim, rollout="audit-first"))
        first = run_tagger("once", "-c", cfg)
        assert applies(sim) == 0, first.stdout
        assert "awaiting promotion" in first.stdout
        refused = run_tagger("promote", "missing-rule-id", "-c", cfg)
        assert refused.returncode != 0
        enforcing = [r.id for r in load_rules([RULES_DIR]).rules if r.mode == "enforce"]
        no_tty = run_tagger("promote", enforcing[0], "-c", cfg)
        assert no_tty.returncode == 1 and "--yes" in no_tty.stderr
        for rule in enforcing:
            done = run_tagger("promote", rule, "--yes", "-c", cfg)
            assert done.returncode == 0, done.stderr
        second = run_tagger("once", "-c", cfg)
        assert second.returncode == 0, second.stderr
        assert applied_pairs(sim) == expected_pairs(sim)
        assert repeated_applies(sim) == {}


def test_the_kill_switch_stops_every_apply_and_loses_nothing(tmp_path: Path) -> None:
    with Simulator(SimulatorConfig(seed=11, messages=150)) as sim:
        cfg = str(write_config(tmp_path, sim, rollout="enforce"))
        assert run_tagger("pause", "--all", "-c", cfg).returncode == 0
        held = run_tagger("once", "-c", cfg)
        assert applies(sim) == 0, held.stdout
        assert "every apply is paused" in held.stdout
        assert run_tagger("resume", "--all", "-c", cfg).returncode == 0
        done = run_tagger("once", "-c", cfg)
        assert done.returncode == 0, done.stderr
        assert applied_pairs(sim) == expected_pairs(sim)
        assert repeated_applies(sim) == {}
