"""The daemon's pure parts: per-rule schedules and merged backfill reports."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from tagger.engine.queries import not_due
from tagger.engine.tally import CycleReport, merge_reports
from tagger.rules import load_rules

RULES = """\
rules:
  - id: a-hourly
    description: a
    schedule: 1h
    search: {route: [inbound]}
    tags: [A]
  - id: b-quarterly
    description: b
    schedule: 15m
    search: {route: [inbound]}
    tags: [B]
  - id: c-fast
    description: c
    schedule: 1m
    search: {route: [outbound]}
    tags: [C]
  - id: d-default
    description: d
    search: {route: [internal]}
    tags: [D]
  - id: e-hourly
    description: e
    schedule: 1h
    search: {route: [internal]}
    tags: [E]
"""
T0 = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
FIVE = timedelta(minutes=5)


def test_query_schedule_is_the_shortest_rule_schedule_and_only_when_all_rules_set_one(
    tmp_path: Path,
) -> None:
    path = tmp_path / "rules.yaml"
    path.write_text(RULES)
    queries = {q.criteria.routes: q for q in load_rules([path]).queries}
    assert queries[("inbound",)].schedule == timedelta(minutes=15)
    assert queries[("outbound",)].schedule == timedelta(minutes=1)
    assert queries[("internal",)].schedule is None

    keys = {route[0]: q.key for route, q in queries.items()}
    everything = list(queries.values())
    # Never searched: everything is due.
    assert not_due(everything, {}, T0, FIVE) == frozenset()
    last = dict.fromkeys(keys.values(), T0)
    # A schedule shorter than the interval, or none, is always due.
    assert not_due(everything, last, T0 + FIVE, FIVE) == {keys["inbound"]}
    assert not_due(everything, last, T0 + 2 * FIVE, FIVE) == {keys["inbound"]}
    # Due at 15m even when the cycle starts a little early.
    early = T0 + 3 * FIVE - timedelta(seconds=20)
    assert not_due(everything, last, early, FIVE) == frozenset()


def test_merge_reports_sums_one_report_per_account() -> None:
    first = CycleReport("a", False, T0, T0 + FIVE, applied=2, scanned=10, window_splits=1)
    first.per_rule("r1").applied = 2
    first.plan.append(("m1", "t1", "enforce"))
    second = CycleReport("b", False, T0, T0 + FIVE, applied=1, failed=1)
    third = CycleReport("a", False, T0 + FIVE, T0 + 2 * FIVE, applied=3, interrupted=True)
    third.per_rule("r1").applied = 1
    third.per_rule("r2").applied = 2
    third.errors.append("boom")
    merged = merge_reports([first, second, third])
    assert [r.account for r in merged] == ["a", "b"]
    a, b = merged
    assert (a.applied, a.scanned, a.window_splits, a.interrupted) == (5, 10, 1, True)
    assert (a.started, a.finished) == (T0, T0 + 2 * FIVE)
    assert {k: v.applied for k, v in a.rules.items()} == {"r1": 3, "r2": 2}
    assert a.errors == ["boom"] and a.plan == [("m1", "t1", "enforce")]
    assert (b.applied, b.failed, b.interrupted) == (1, 1, False)
    # The account, one line per rule, and what is left for the next run.
    assert len(a.summary_lines()) == 4
    assert a.summary_lines()[-1] == "  incomplete: stopped before the end; the next run retries"


def test_status_shows_only_the_criteria_a_query_sets() -> None:
    from tagger.cli.status import _criteria
    from tagger.mimecast.criteria import SearchCriteria

    key = SearchCriteria(routes=("inbound",), attachments=True).key()
    assert _criteria(key) == "route=inbound; attachments=True"
    assert _criteria(SearchCriteria().key()) == "all mail"


def test_once_summary_marks_audit_only_rules_with_one_word() -> None:
    rules = load_rules([Path(__file__).parents[2] / "rules"]).rules
    report = CycleReport("a", False, T0, T0 + FIVE)
    report.expect_rules(rules)
    audit_mode = sorted(r.id for r in rules if r.mode == "audit")
    enforce = sorted(r.id for r in rules if r.mode == "enforce")
    assert audit_mode and len(enforce) >= 2
    report.awaiting = [enforce[0]]
    report.paused = [enforce[1]]
    lines = report.summary_lines()
    assert f"  rule {audit_mode[0]} [audit-only: mode audit]: 0 matched" in "\n".join(lines)
    assert f"  rule {enforce[0]} [audit-only: awaiting promotion]: " in "\n".join(lines)
    assert f"  rule {enforce[1]} [paused]: " in "\n".join(lines)
    # Merged per-account reports keep the marks.
    (merged,) = merge_reports([report, CycleReport("a", False, T0 + FIVE, T0 + 2 * FIVE)])
    assert f"rule {audit_mode[0]} [audit-only: mode audit]" in "\n".join(merged.summary_lines())
