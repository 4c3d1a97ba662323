"""The safety rails end to end: `tagger` processes against the simulator on 127.0.0.1.

Preflight (an unwritable audit path applies nothing), blast-radius limits
(pause before the limit, resume, nothing lost or duplicated), audit-first
rollout (nothing applied until promoted, then exactly the plan) and the kill
switch.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import yaml

from tagger.rules import RuleSet, load_rules
from tagger.simulator import Simulator, SimulatorConfig
from tagger.state import StateStore
from testkit import RULES_DIR
from tests.support.daemon import (
    Running,
    applied_pairs,
    audit_records,
    expected_pairs,
    repeated_applies,
    run_tagger,
    wait_until,
    write_config,
)


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


def test_a_dry_run_with_an_unwritable_audit_path_names_it_and_the_fix(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the audit folder should be\n")
    with Simulator(SimulatorConfig(seed=11, messages=120)) as sim:
        cfg = str(write_config(tmp_path, sim, rollout="enforce"))
        done = run_tagger("once", "-c", cfg, "--dry-run", "--audit", str(blocker / "audit.jsonl"))
        out = done.stdout + done.stderr
        assert done.returncode == 1, out
        assert "would apply" in done.stdout, out  # the dry run found matches to write
        assert "cannot write the audit file" in done.stderr
        assert str(blocker) in done.stderr and "--audit" in done.stderr
        assert "Traceback" not in out
        assert applies(sim) == 0


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
                assert run_tagger("resume", rule, "--yes", "-c", cfg).returncode == 0
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
        # The audit file says the truth: nothing of an enforce rule awaiting promotion applied.
        held = [r for r in audit_records(tmp_path / "audit.jsonl") if r["rule_mode"] == "enforce"]
        assert held and {(r["mode"], r["outcome"]) for r in held} <= {
            ("audit", "audit"),
            ("audit", "already-tagged"),
        }
        summary = run_tagger("report", str(tmp_path / "audit.jsonl"))
        assert summary.returncode == 0 and " audit" in summary.stdout
        assert " applied" not in summary.stdout
        refused = run_tagger("promote", "missing-rule-id", "-c", cfg)
        assert refused.returncode != 0
        enforcing = [r.id for r in load_rules([RULES_DIR]).rules if r.mode == "enforce"]
        no_tty = run_tagger("promote", enforcing[0], "-c", cfg)
        assert no_tty.returncode == 1 and "--yes" in no_tty.stderr
        records = audit_records(tmp_path / "audit.jsonl")
        hashes = {r.id: r.content_hash for r in load_rules([RULES_DIR]).rules}
        sampled = 0
        for rule in enforcing:
            done = run_tagger("promote", rule, "--yes", "-c", cfg)
            assert done.returncode == 0, done.stderr
            # Besides the counts, a sample: the rule's latest audit-only matches, explained.
            mine = [
                r["message_id"]
                for r in records
                if r["rule"] == rule and r["outcome"] == "audit" and r["rule_hash"] == hashes[rule]
            ]
            if mine:
                shown = min(5, len(mine))
                noun = "match" if shown == 1 else "matches"
                assert f"its latest {shown} audit-only {noun}" in done.stdout
                assert all(m in done.stdout for m in mine[-5:])
                assert "✓" in done.stdout
                sampled += 1
            else:
                assert "no audit-only match" in done.stdout
        assert sampled
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
        outcomes = {r["outcome"] for r in audit_records(tmp_path / "audit.jsonl")}
        assert "held" in outcomes and "applied" not in outcomes
        refused = run_tagger("resume", "--all", "-c", cfg)
        assert refused.returncode == 1 and "--yes" in refused.stderr, refused.stdout
        assert run_tagger("resume", "--all", "--yes", "-c", cfg).returncode == 0
        done = run_tagger("once", "-c", cfg)
        assert done.returncode == 0, done.stderr
        assert applied_pairs(sim) == expected_pairs(sim)
        assert repeated_applies(sim) == {}


def test_the_kill_switch_stops_a_running_daemon_and_resume_loses_nothing(tmp_path: Path) -> None:
    with Simulator(SimulatorConfig(seed=13, messages=120)) as sim:
        cfg = str(write_config(tmp_path, sim, rollout="enforce"))
        daemon = Running("run", "-c", cfg)
        try:
            daemon.wait_event("cycle_finished", 1)
            assert run_tagger("pause", "--all", "-c", cfg).returncode == 0
            # The cycle under way when the switch went on may still apply; every
            # cycle after it starts with the switch on and must apply nothing,
            # though new mail with tags to apply keeps arriving.
            seen = len(daemon.named("cycle_finished"))
            sim.add_messages(60)
            daemon.wait_event("cycle_finished", seen + 1, timeout=60)
            before = applies(sim)
            sim.add_messages(60)
            daemon.wait_event("cycle_finished", seen + 2, timeout=60)
            daemon.wait_event("cycle_finished", seen + 3, timeout=60)
            assert applies(sim) == before
            assert applied_pairs(sim) != expected_pairs(sim)  # held tags are waiting

            assert run_tagger("resume", "--all", "--yes", "-c", cfg).returncode == 0
            wait_until(
                lambda: applied_pairs(sim) == expected_pairs(sim), 60, "the held tags applied"
            )
            seen = len(daemon.named("cycle_finished"))
            daemon.wait_event("cycle_finished", seen + 1, timeout=60)
        finally:
            daemon.stop()
        assert applied_pairs(sim) == expected_pairs(sim)
        assert repeated_applies(sim) == {}


def rule_pairs(sim: Simulator, rules_dir: Path, rule_id: str) -> set[tuple[str, str]]:
    """Return the (message, tag) pairs ``rule_id`` alone would apply on ``sim``."""
    rule = load_rules([rules_dir]).by_id[rule_id]
    return expected_pairs(sim, RuleSet(rules=(rule,)))


def test_a_rule_with_its_own_max_applies_is_paused_while_the_others_go_on(
    tmp_path: Path,
) -> None:
    rules_dir = tmp_path / "rules"
    shutil.copytree(RULES_DIR, rules_dir)
    with Simulator(SimulatorConfig(seed=11, messages=200)) as sim:
        sizes = {
            r.id: len(rule_pairs(sim, rules_dir, r.id))
            for r in load_rules([rules_dir]).rules
            if r.mode == "enforce"
        }
        capped = max(sizes, key=lambda rule: sizes[rule])
        capped_tags = {tag for _, tag in rule_pairs(sim, rules_dir, capped)}
        assert sizes[capped] > 2
        for path in rules_dir.glob("*.yaml"):
            doc = yaml.safe_load(path.read_text(encoding="utf-8"))
            for rule in doc["rules"]:
                if rule["id"] == capped:
                    rule["max_applies"] = {"per_cycle": 2}
            path.write_text(yaml.safe_dump(doc, sort_keys=False), encoding="utf-8")
        cfg = str(write_config(tmp_path, sim, rules=[rules_dir / "*.yaml"], rollout="enforce"))
        done = run_tagger("once", "-c", cfg)
        assert done.returncode == 1, done.stderr
        assert f"rule {capped!r} paused" in done.stdout + done.stderr
        with StateStore.open(tmp_path / "state.db", lock=False, readonly=True) as store:
            by_rule: dict[str, int] = {}
            for (rule_id, _tag), n in store.tags_per_rule().items():
                by_rule[rule_id] = by_rule.get(rule_id, 0) + n
            assert [p.rule_id for p in store.pauses()] == [capped]
        assert by_rule.get(capped) == 2
        # Every other rule applied everything it matched.
        ruleset = load_rules([rules_dir])
        others = {pair for pair in expected_pairs(sim, ruleset) if pair[1] not in capped_tags}
        assert others and {p for p in applied_pairs(sim) if p[1] not in capped_tags} == others
        assert applied_pairs(sim) <= expected_pairs(sim, ruleset)
        assert repeated_applies(sim) == {}
