"""Rails that record held pairs instead of holding windows, end to end on 127.0.0.1.

`tagger` processes against the simulator: a rule awaiting promotion reads each
message once and counts distinct messages; promote applies exactly the held
pairs (simulator ground truth), each once; --from-now drops them and the audit
report says so; a changed definition drops the old hash's pairs; pause RULE and
resume RULE; a dry run of unpromoted rules completes; status --check warns.
"""

from __future__ import annotations

import csv
import io
import json
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tagger import exitcodes
from tagger.rules import RuleSet, load_rules
from tagger.simulator import Simulator, SimulatorConfig
from tagger.state import StateStore
from tagger.state.held import AWAITING, HeldRow
from testkit import RULES_DIR
from testkit.setup import account_yaml
from tests.support.daemon import (
    RELAXED_AGES,
    applied_pairs,
    audit_records,
    expected_pairs,
    repeated_applies,
    run_tagger,
    write_config,
)

RULE = "phishing-suspect"


def calls(sim: Simulator, endpoint: str) -> int:
    """Return the calls of ``endpoint`` the simulator answered."""
    return int(sim.stats()["endpoints"][endpoint]["total"])


def rule_pairs(sim: Simulator, rule_id: str, rules_dir: Path = RULES_DIR) -> set[tuple[str, str]]:
    """Return the (message, tag) pairs ``rule_id`` applies on ``sim`` (ground truth).

    Judged with every rule (a higher-priority ``stop`` rule counts); the
    shipped rules each name their own tags, so a tag says which rule wants it.
    """
    ruleset = load_rules([rules_dir])
    mine = {
        pair
        for pair in expected_pairs(sim, RuleSet(rules=(ruleset.by_id[rule_id],)))
        if pair in expected_pairs(sim, ruleset)
    }
    tags = {tag for _, tag in mine}
    return {pair for pair in expected_pairs(sim, ruleset) if pair[1] in tags}


def held(state: Path, rule_id: str | None = None, status: str = "held") -> set[tuple[str, str]]:
    """Return the (message, tag) pairs of ``rule_id`` (None: any) with ``status`` in state."""
    with StateStore.open(state, lock=False, readonly=True) as store:
        rows = store.held_rows(rule_ids=None if rule_id is None else [rule_id], status=status)
    return {(r.message_id, r.tag_id) for r in rows}


def status_json(cfg: str) -> dict[str, Any]:
    done = run_tagger("status", "--json", "-c", cfg)
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def test_an_unpromoted_rule_reads_each_message_once_and_promote_applies_exactly_its_pairs(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state.db"
    with Simulator(SimulatorConfig(seed=11, messages=150)) as sim:
        cfg = str(write_config(tmp_path, sim, rollout="audit-first"))
        first = run_tagger("once", "-c", cfg)
        # A rail is no undone work: the cycle completed.
        assert first.returncode == 0, first.stdout + first.stderr
        assert calls(sim, "apply") == 0
        info_after_first = calls(sim, "info")
        sim.add_messages(60)
        second = run_tagger("once", "-c", cfg)
        assert second.returncode == 0, second.stdout + second.stderr
        # Only the new mail is read: the held messages were processed once.
        assert calls(sim, "info") - info_after_first <= 60
        assert calls(sim, "apply") == 0
        truth = rule_pairs(sim, RULE)
        assert truth and held(state, RULE) == truth

        # Monitoring: a warning with how long and how many, never a watermark critical.
        check = run_tagger("status", "--check", "--no-daemon", *RELAXED_AGES, "-c", cfg)
        assert check.returncode == exitcodes.NAGIOS_WARNING, check.stdout
        assert "watermark" not in check.stdout
        messages = len({m for m, _ in truth})
        assert f"{RULE} for " in check.stdout
        assert f"{messages} messages, {len(truth)} tags held" in check.stdout
        listed = [h for h in status_json(cfg)["held_pairs"] if h["rule"] == RULE]
        assert [(h["messages"], h["pairs"]) for h in listed] == [(messages, len(truth))]

        # The audit file holds each (message, rule hash, outcome) once.
        records = audit_records(tmp_path / "audit.jsonl")
        keys = [(r["message_id"], r["rule"], r["rule_hash"], r["outcome"]) for r in records]
        assert len(keys) == len(set(keys))

        promoted = run_tagger("promote", RULE, "--yes", "-c", cfg)
        assert promoted.returncode == 0, promoted.stderr
        assert f"held until promoted: {messages} messages, {len(truth)} tags" in promoted.stdout
        assert calls(sim, "apply") == 0  # the next cycle applies them
        third = run_tagger("once", "-c", cfg)
        assert third.returncode == 0, third.stdout + third.stderr
        assert applied_pairs(sim) == truth
        assert held(state, RULE) == set() and held(state, RULE, "applied") == truth
        fourth = run_tagger("once", "-c", cfg)
        assert fourth.returncode == 0, fourth.stdout
        assert applied_pairs(sim) == truth and repeated_applies(sim) == {}

        # The report counts the rule's messages once, audited then applied side by side.
        audit = str(tmp_path / "audit.jsonl")
        text = run_tagger("report", audit, "--rule", RULE, "-c", cfg)
        assert text.returncode == 0, text.stderr
        line = f"rule {RULE}: {messages} messages, {len(truth)} tags ({messages} applied)"
        assert line in text.stdout, text.stdout
        assert "enforcing (hash " in text.stdout
        table = run_tagger("report", audit, "--rule", RULE, "--csv", "-")
        rows = list(csv.DictReader(io.StringIO(table.stdout)))
        assert len(rows) == messages
        assert {r["outcomes"] for r in rows} == {"audit;applied"}
        page = tmp_path / "report.html"
        html = run_tagger("report", audit, "--html", str(page), "-c", cfg)
        assert html.returncode == 0, html.stderr
        text_of = page.read_text(encoding="utf-8")
        # Each rule's state, and the chart's applied apart from what is held back.
        assert f'data-state-of="{RULE}">enforcing (hash ' in text_of
        assert "awaiting promotion since " in text_of
        assert re.search(rf'data-rule="{RULE}" data-kind="applied"', text_of)
        assert 'data-kind="held"' in text_of
        assert '<tr class="why"><td colspan="7">' in text_of

        # Every other rule, promoted, applies exactly the rest: each pair once.
        for rule in load_rules([RULES_DIR]).rules:
            if rule.mode == "enforce" and rule.id != RULE:
                assert run_tagger("promote", rule.id, "--yes", "-c", cfg).returncode == 0
        assert run_tagger("once", "-c", cfg).returncode == 0
        assert applied_pairs(sim) == expected_pairs(sim)
        assert repeated_applies(sim) == {}


def test_promote_from_now_drops_the_backlog_and_the_report_says_so(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    with Simulator(SimulatorConfig(seed=12, messages=120)) as sim:
        cfg = str(write_config(tmp_path, sim, rollout="audit-first"))
        assert run_tagger("once", "-c", cfg).returncode == 0
        truth = rule_pairs(sim, RULE)
        assert truth and held(state, RULE) == truth
        refused = run_tagger("promote", RULE, "--from-now", "-c", cfg)
        assert refused.returncode == 1 and "--yes" in refused.stderr
        done = run_tagger("promote", RULE, "--from-now", "--yes", "-c", cfg)
        assert done.returncode == 0, done.stderr
        assert "dropped (the audit report says so)" in done.stdout
        assert held(state, RULE) == set() and held(state, RULE, "dropped") == truth
        sim.add_messages(40)
        assert run_tagger("once", "-c", cfg).returncode == 0
        # Only the new mail's pairs: the dropped backlog is never applied.
        assert applied_pairs(sim) == rule_pairs(sim, RULE) - truth
        report = run_tagger("report", str(tmp_path / "audit.jsonl"))
        assert report.returncode == 0, report.stderr
        assert re.search(rf"rule {RULE}: .*{len(truth)} dropped", report.stdout), report.stdout


def test_a_changed_definition_drops_the_pairs_of_its_old_hash(tmp_path: Path) -> None:
    rules_dir = tmp_path / "rules"
    shutil.copytree(RULES_DIR, rules_dir)
    state = tmp_path / "state.db"
    with Simulator(SimulatorConfig(seed=13, messages=120)) as sim:
        cfg = str(write_config(tmp_path, sim, rules=[rules_dir / "*.yaml"], rollout="audit-first"))
        assert run_tagger("once", "-c", cfg).returncode == 0
        old = held(state, RULE)
        assert old
        for path in rules_dir.glob("*.yaml"):
            text = path.read_text(encoding="utf-8")
            if f"id: {RULE}" in text:
                path.write_text(text.replace("priority: 100", "priority: 101"), encoding="utf-8")
        promoted = run_tagger("promote", RULE, "--yes", "-c", cfg)
        assert promoted.returncode == 0, promoted.stderr
        assert "held under an earlier definition" in promoted.stdout
        assert held(state, RULE) == set() and held(state, RULE, "dropped") == old
        assert run_tagger("once", "-c", cfg).returncode == 0
        assert calls(sim, "apply") == 0  # the old hash's backlog is never applied
        outcomes = {
            r["outcome"] for r in audit_records(tmp_path / "audit.jsonl") if r["rule"] == RULE
        }
        assert "dropped" in outcomes


def test_pause_rule_holds_its_pairs_and_resume_applies_them_once(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    with Simulator(SimulatorConfig(seed=14, messages=120)) as sim:
        cfg = str(write_config(tmp_path, sim, rollout="enforce"))
        paused = run_tagger("pause", RULE, "-c", cfg)
        assert paused.returncode == 0, paused.stderr
        assert run_tagger("once", "-c", cfg).returncode == 0
        truth = rule_pairs(sim, RULE)
        others = expected_pairs(sim) - truth
        assert truth and held(state, RULE) == truth
        assert applied_pairs(sim) == others  # the other rules go on
        check = run_tagger("status", "--check", "--no-daemon", *RELAXED_AGES, "-c", cfg)
        assert check.returncode == exitcodes.NAGIOS_WARNING, check.stdout
        assert "paused by the operator" in check.stdout
        resumed = run_tagger("resume", RULE, "--yes", "-c", cfg)
        assert resumed.returncode == 0, resumed.stderr
        messages = len({m for m, _ in truth})
        assert f"held while paused: {messages} messages, {len(truth)} tags" in resumed.stdout
        assert run_tagger("once", "-c", cfg).returncode == 0
        assert run_tagger("once", "-c", cfg).returncode == 0
        assert applied_pairs(sim) == expected_pairs(sim)
        assert repeated_applies(sim) == {}


def test_a_dry_run_of_unpromoted_rules_completes_and_names_what_they_would_apply(
    tmp_path: Path,
) -> None:
    with Simulator(SimulatorConfig(seed=15, messages=120)) as sim:
        cfg = str(write_config(tmp_path, sim, rollout="audit-first"))
        dry = run_tagger("once", "--dry-run", "--show", "2", "-c", cfg)
        assert dry.returncode == 0, dry.stdout + dry.stderr
        assert "incomplete" not in dry.stdout
        found = re.search(r", (\d+) would apply once promoted", dry.stdout)
        assert found, dry.stdout
        would = int(found.group(1))
        per_rule = [int(n) for n in re.findall(r"would apply (\d+) once promoted", dry.stdout)]
        assert would == sum(per_rule) == len(expected_pairs(sim))
        assert f"rule {RULE}: 2 of " in dry.stdout and "[would apply once promoted]" in dry.stdout
        bad = run_tagger("once", "--dry-run", "--show", "many", "-c", cfg)
        assert bad.returncode == 2 and "--show" in bad.stderr
        # The live run holds exactly what the preview said it would apply once promoted.
        assert run_tagger("once", "-c", cfg).returncode == 0
        assert len(held(tmp_path / "state.db")) == would


def test_a_disabled_account_holds_its_pairs_until_it_is_enabled(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    with Simulator(SimulatorConfig(seed=16, messages=100)) as sim:
        disabled = [{**account_yaml(sim), "enabled": False}]
        cfg = str(write_config(tmp_path, sim, accounts=disabled))
        assert run_tagger("once", "-c", cfg).returncode == 0
        assert calls(sim, "apply") == 0
        truth = expected_pairs(sim)
        assert truth and held(state) == truth
        reasons = {h["reason"] for h in status_json(cfg)["held_pairs"]}
        assert reasons == {"account-disabled"}
        check = run_tagger("status", "--check", "--no-daemon", *RELAXED_AGES, "-c", cfg)
        assert check.returncode == exitcodes.NAGIOS_WARNING, check.stdout
        assert f"accounts disabled: demo ({len({m for m, _ in truth})} messages" in check.stdout
        # The kill switch is not what holds them: resume --all leaves them to the account.
        idle = run_tagger("resume", "--all", "-c", cfg)
        assert idle.returncode == 0 and "nothing held to apply" in idle.stdout, idle.stdout
        assert held(state) == truth
        cfg = str(write_config(tmp_path, sim))  # enabled again
        assert run_tagger("once", "-c", cfg).returncode == 0
        assert applied_pairs(sim) == truth and repeated_applies(sim) == {}
        assert held(state) == set()


def test_pause_and_resume_refuse_bad_input_with_the_fix(tmp_path: Path) -> None:
    with Simulator(SimulatorConfig(seed=17, messages=10)) as sim:
        cfg = str(write_config(tmp_path, sim))
        for args, says in (
            ((), "name one rule to pause, or --all"),
            ((RULE, "--all"), "not both"),
            (("phishing-suspekt",), "unknown rule 'phishing-suspekt'"),
        ):
            done = run_tagger("pause", *args, "-c", cfg)
            assert done.returncode == 2 and says in done.stderr, done.stderr
            assert "Traceback" not in done.stderr
        idle = run_tagger("resume", RULE, "-c", cfg)
        assert idle.returncode == 1 and f"rule {RULE!r} is not paused" in idle.stderr


def test_a_released_pair_that_fails_for_good_is_set_aside_not_retried_forever(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state.db"
    with Simulator(SimulatorConfig(seed=18, messages=80)) as sim:
        cfg = str(write_config(tmp_path, sim, rollout="audit-first", max_failures=2))
        assert run_tagger("once", "-c", cfg).returncode == 0
        truth = rule_pairs(sim, RULE)
        assert truth
        # A held pair whose message the service no longer knows: every apply fails for good.
        rule = load_rules([RULES_DIR]).by_id[RULE]
        tag_id = next(iter(truth))[1]
        now = datetime.now(UTC)
        with StateStore.open(state, lock=False) as store:
            store.hold(
                [
                    HeldRow(
                        "demo",
                        "gone-1",
                        tag_id,
                        RULE,
                        rule.content_hash,
                        rule.tags[0],
                        AWAITING,
                        now,
                        now,
                    )
                ]
            )
        assert run_tagger("promote", RULE, "--yes", "-c", cfg).returncode == 0
        first = run_tagger("once", "-c", cfg)
        assert first.returncode == exitcodes.INCOMPLETE, first.stdout + first.stderr
        assert applied_pairs(sim) == truth  # the others are applied
        second = run_tagger("once", "-c", cfg)
        assert second.returncode == exitcodes.FAILURE, second.stdout  # set aside: needs you
        with StateStore.open(state, lock=False, readonly=True) as store:
            assert store.set_aside_ids("demo") == {"gone-1"}
            (dropped,) = store.held_rows(status="dropped")
        assert dropped.message_id == "gone-1" and "set aside" in dropped.note
        tries = calls(sim, "apply")
        assert run_tagger("once", "-c", cfg).returncode == 0
        assert calls(sim, "apply") == tries and repeated_applies(sim) == {}


def test_mail_judged_again_writes_no_second_entry_for_a_pair_still_held(tmp_path: Path) -> None:
    rules_dir = tmp_path / "rules"
    shutil.copytree(RULES_DIR, rules_dir)
    with Simulator(SimulatorConfig(seed=19, messages=60)) as sim:
        sim.add_messages(80)  # inside the window's overlap: judged again below
        cfg = str(write_config(tmp_path, sim, rules=[rules_dir / "*.yaml"], rollout="audit-first"))
        assert run_tagger("once", "-c", cfg).returncode == 0
        before = audit_records(tmp_path / "audit.jsonl")
        assert any(r["rule"] == RULE and r["outcome"] == "audit" for r in before)
        # Another rule changes: the rule set's hash changes and the overlap is judged again.
        for path in rules_dir.glob("*.yaml"):
            text = path.read_text(encoding="utf-8")
            if "id: greymail-bulk" in text:
                path.write_text(text.replace("priority: 10", "priority: 11"), encoding="utf-8")
        again = run_tagger("once", "-c", cfg)
        assert again.returncode == 0, again.stdout + again.stderr
        assert re.search(r" ([1-9]\d*) scanned, 0 already processed", again.stdout), again.stdout
        records = audit_records(tmp_path / "audit.jsonl")
        keys = [(r["message_id"], r["rule"], r["rule_hash"], r["outcome"]) for r in records]
        assert len(keys) == len(set(keys))
        assert any(r["rule"] == "greymail-bulk" for r in records[len(before) :])
