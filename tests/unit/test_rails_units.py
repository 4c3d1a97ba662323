"""The safety rails' decisions, without a server: budgets, rollout, preflight checks."""

from __future__ import annotations

import json
import os
import stat
from datetime import UTC, datetime, timedelta
from functools import partial
from pathlib import Path

import pytest

from tagger.audit.files import open_private
from tagger.audit.sample import audit_sample
from tagger.engine.guard import rule_limits
from tagger.errors import UserError
from tagger.rails.budget import Budget, History, Limits
from tagger.rails.preflight import audit_sink_problems, clock_problems, tag_problems
from tagger.rails.rollout import RuleIdentity, awaiting_promotion, effective_modes
from tagger.rules import load_rules
from tagger.state import StateStore
from tagger.state.railstore import RuleCycleRow
from tests.support.state import T0


def test_a_rule_is_paused_before_it_applies_beyond_its_cycle_limit() -> None:
    budget = Budget({"r": Limits(per_cycle=3)}, {})
    assert [budget.reserve("r") for _ in range(3)] == [None, None, None]
    pause = budget.reserve("r")
    assert pause is not None and pause.limit == 3 and pause.count == 3
    assert "tagger resume r" in pause.message()
    # Once paused, always refused this cycle; other rules go on.
    assert budget.reserve("r") is pause
    assert budget.reserve("other") is None
    assert budget.applied == {"r": 3, "other": 1}


def test_the_24_hour_limit_counts_earlier_applies() -> None:
    budget = Budget({"r": Limits(per_cycle=100, per_day=10)}, {"r": History(applied_24h=8)})
    assert budget.reserve("r") is None and budget.reserve("r") is None
    pause = budget.reserve("r")
    assert pause is not None and "24-hour" in pause.reason and pause.count == 10


def test_a_failed_apply_gives_its_reservation_back() -> None:
    budget = Budget({"r": Limits(per_cycle=1)}, {})
    assert budget.reserve("r") is None
    budget.release("r")
    assert budget.reserve("r") is None
    assert budget.reserve("r") is not None


def test_anomalous_matches_pause_only_with_a_history() -> None:
    limits = {"r": Limits(anomaly_factor=10, anomaly_min_cycles=5, anomaly_floor=20)}
    young = Budget(limits, {"r": History(cycles=2, matched_total=2)})
    assert all(young.note_match("r") is None for _ in range(1000))
    steady = Budget(limits, {"r": History(cycles=10, matched_total=50)})  # 5 per cycle
    results = [steady.note_match("r") for _ in range(51)]
    assert results[:50] == [None] * 50
    assert results[50] is not None and "trailing average" in results[50].reason
    assert steady.reserve("r") is results[50]


def test_a_peak_after_quiet_cycles_is_not_an_anomaly(tmp_path: Path) -> None:
    """A rule matching 30 every morning and nothing overnight is not paused at the next morning."""
    limits = {"r": Limits(anomaly_factor=10, anomaly_min_cycles=5, anomaly_floor=20)}
    with StateStore.open(tmp_path / "state.db") as store:
        for n in range(300):
            matched = 30 if n % 60 == 0 else 0
            store.record_rule_cycle(
                "a", [RuleCycleRow("r", matched, 0, 0)], T0 + timedelta(minutes=n)
            )
        cycles, total = store.rule_history("a", T0)["r"]
    budget = Budget(limits, {"r": History(cycles=cycles, matched_total=total)})
    assert all(budget.note_match("r") is None for _ in range(45))  # an ordinary, busier morning
    # Ten times the usual morning is still an anomaly.
    assert any(budget.note_match("r") is not None for _ in range(300))


def test_rollout_audits_new_and_changed_rules_until_promoted() -> None:
    rules = [
        RuleIdentity("new", "h1", "enforce"),
        RuleIdentity("promoted", "h2", "enforce"),
        RuleIdentity("changed", "h3-new", "enforce"),
        RuleIdentity("audit-only", "h4", "audit"),
    ]
    promoted = {("promoted", "h2"), ("changed", "h3-old")}
    assert awaiting_promotion(rules, "audit-first", promoted) == ["new", "changed"]
    assert effective_modes(rules, "audit-first", promoted) == {
        "new": "audit",
        "promoted": "enforce",
        "changed": "audit",
        "audit-only": "audit",
    }
    assert awaiting_promotion(rules, "enforce", set()) == []
    assert effective_modes(rules, "enforce", set())["new"] == "enforce"


OPEN_APPEND = partial(open_private, append=True)


def test_audit_sink_is_created_and_probed(tmp_path: Path) -> None:
    target = tmp_path / "deep" / "audit" / "audit.jsonl"
    old = os.umask(0o022)
    try:
        assert audit_sink_problems(target, OPEN_APPEND) == []
    finally:
        os.umask(old)
    assert target.parent.is_dir() and os.listdir(target.parent) == ["audit.jsonl"]
    # Created by the probe as the writer creates it: private, whatever the umask.
    assert stat.S_IMODE(target.stat().st_mode) == 0o600
    assert audit_sink_problems(None, OPEN_APPEND) == []


def test_audit_sink_refuses_a_symbolic_link(tmp_path: Path) -> None:
    victim = tmp_path / "passwd-copy"
    victim.write_text("root:x:0:0\n")
    link = tmp_path / "audit.jsonl"
    link.symlink_to(victim)
    problems = audit_sink_problems(link, OPEN_APPEND)
    assert len(problems) == 1 and "symbolic link" in problems[0] and str(link) in problems[0]
    assert victim.read_text() == "root:x:0:0\n"


def test_audit_sink_under_a_file_is_refused(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("x")
    problems = audit_sink_problems(blocker / "audit.jsonl", OPEN_APPEND)
    assert len(problems) == 1 and str(blocker) in problems[0]


def test_every_enforcing_tag_must_resolve() -> None:
    problems = tag_problems({"r1": ["Security/Phishing", "Gone/Tag"]}, {"Security/Phishing": "t"})
    assert len(problems) == 1 and "Gone/Tag" in problems[0] and "r1" in problems[0]


def test_clock_skew_against_the_server_date() -> None:
    now = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    date = "Tue, 01 Dec 2026 12:00:30 GMT"
    assert clock_problems(date, now) == []
    late = now + timedelta(minutes=10)
    problems = clock_problems(date, late)
    assert len(problems) == 1 and "ahead of" in problems[0]
    assert clock_problems(None, now) == [] and clock_problems("garbage", now) == []


def _rule_file(tmp_path: Path, extra: str) -> Path:
    path = tmp_path / "rules.yaml"
    path.write_text(
        "rules:\n  - id: r\n    description: d\n    tags: [Security/Phishing]\n"
        "    match: {field: greymail, equals: true}\n" + extra,
        encoding="utf-8",
    )
    return path


def test_max_applies_sets_the_rule_limits_and_leaves_the_content_hash_alone(
    tmp_path: Path,
) -> None:
    plain = load_rules([_rule_file(tmp_path, "")]).by_id["r"]
    capped = load_rules([_rule_file(tmp_path, "    max_applies: {per_cycle: 2}\n")]).by_id["r"]
    assert plain.max_applies == (None, None) and capped.max_applies == (2, None)
    assert plain.content_hash == capped.content_hash
    assert rule_limits(capped, Limits(per_cycle=500, per_day=900)) == Limits(
        per_cycle=2, per_day=900
    )
    with pytest.raises(UserError) as info:
        load_rules([_rule_file(tmp_path, "    max_applies: {per_cycle: 0}\n")])
    assert "max_applies" in str(info.value.problems[0])


def test_the_promote_sample_is_the_latest_audit_only_matches_of_the_current_definition(
    tmp_path: Path,
) -> None:
    audit = tmp_path / "audit.jsonl"

    def line(n: int, rule: str = "r", rule_hash: str = "h2", outcome: str = "audit") -> str:
        entry = {"rule": rule, "rule_hash": rule_hash, "outcome": outcome, "message_id": f"m{n}"}
        return json.dumps(entry) + "\n"

    Path(f"{audit}.1").write_text("".join(line(n) for n in range(1, 4)) + "not json\n")
    audit.write_text(
        line(4, rule_hash="h1")  # an older definition of the rule
        + line(5, rule="other")
        + line(6, outcome="applied")
        + "".join(line(n) for n in range(7, 10))
    )
    assert [e["message_id"] for e in audit_sample(audit, "r", "h2")] == [
        "m2",
        "m3",
        "m7",
        "m8",
        "m9",
    ]
    assert audit_sample(audit, "r", "h1") == [json.loads(line(4, rule_hash="h1"))]
    assert audit_sample(tmp_path / "missing.jsonl", "r", "h2") == []
