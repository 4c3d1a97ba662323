"""The audit report's entries, files, rotation, and `tagger report` without a browser."""

from __future__ import annotations

import csv
import io
import json
import re
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tagger.audit import read_records, summarise
from tagger.audit.csvout import write_csv
from tagger.audit.records import AuditRecord
from tagger.audit.writer import dry_run_path, rotated_paths, write_entries
from tagger.cli.timeargs import parse_when
from tagger.config.model import AuditRotation
from tagger.errors import UserError
from tests.support.audit import NOW, a_report
from tests.support.daemon import audit_records


def test_entries_say_when_which_run_which_window_and_who() -> None:
    report = a_report(1)
    record = report.entries[0].to_json()
    assert record["timestamp"] == "2026-11-02T12:00:05+00:00"
    assert re.fullmatch(r"[0-9a-f]{12}", str(record["run_id"]))
    assert record["window"] == {
        "start": "2026-11-02T11:00:00+00:00",
        "end": "2026-11-02T12:00:00+00:00",
    }
    assert record["mode"] == "live" and record["outcome"] == "applied"
    assert record["rule"] == "phish" and record["rule_hash"] == "h" * 64
    assert record["sender"] == "eve@bad.example"
    assert record["recipients"] == ["a@corp.example", "b@corp.example"]
    assert a_report(1, dry_run=True).entries[0].to_json()["mode"] == "dry-run"


def test_dry_run_entries_go_to_the_sibling_file(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    assert dry_run_path(path) == tmp_path / "audit.dry-run.jsonl"
    assert dry_run_path(tmp_path / "x.dry-run.jsonl") == tmp_path / "x.dry-run.jsonl"
    assert write_entries(path, [a_report(2), a_report(3, dry_run=True)]) == 5
    assert {r["mode"] for r in audit_records(path)} == {"live"}
    assert len(audit_records(path)) == 2
    dry = audit_records(tmp_path / "audit.dry-run.jsonl")
    assert len(dry) == 3 and {r["mode"] for r in dry} == {"dry-run"}


def test_audit_file_rotates_by_size_and_keeps_whole_lines(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    one = len(json.dumps({"account": "main", **a_report(1).entries[0].to_json()}))
    rotation = AuditRotation(max_bytes=one * 5, keep=2)
    for _ in range(8):
        write_entries(path, [a_report(2)], rotation)
    files = rotated_paths(path, 10)
    assert files == [path, Path(f"{path}.1"), Path(f"{path}.2")]
    for f in files:
        assert f.stat().st_size <= rotation.max_bytes
        assert len(audit_records(f)) == 4 or f == path
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_report_reads_old_entries_and_skips_broken_lines(tmp_path: Path) -> None:
    path = tmp_path / "old.jsonl"
    old = {"account": "a", "dry_run": True, "message_id": "m", "mode": "enforce", "rule": "r"}
    old["planned_tag_ids"] = ["st-1"]
    path.write_text(json.dumps(old) + "\n{not json\n", encoding="utf-8")
    records, problems = read_records([path])
    assert [(r.mode, r.outcome) for r in records] == [("dry-run", "would-apply")]
    assert [(p.line, p.severity) for p in problems] == [(2, "warning")]


def test_summary_lists_rules_without_matches_and_counts_domains() -> None:
    records = [AuditRecord.parse(r.to_json()) for r in a_report(4).entries]
    summary = summarise([r for r in records if r], rules=["phish", "quiet"])
    by_rule = {r.rule: r for r in summary.rules}
    assert by_rule["quiet"].matches == 0
    assert by_rule["phish"].domains == (("bad.example", 4),)
    assert sum(by_rule["phish"].series) == 4


def test_csv_neutralises_formulas_from_mail() -> None:
    record = AuditRecord.parse(a_report(1, subject='=HYPERLINK("http://x")').entries[0].to_json())
    assert record is not None
    out = io.StringIO()
    assert write_csv([record], out) == 1
    row = next(iter(csv.DictReader(io.StringIO(out.getvalue()))))
    assert row["subject"] == '\'=HYPERLINK("http://x")'
    assert row["recipients"] == "a@corp.example;b@corp.example"


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("6h", NOW - timedelta(hours=6)),
        ("1h30m", NOW - timedelta(minutes=90)),
        ("7d", NOW - timedelta(days=7)),
        ("2026-11-01", datetime(2026, 11, 1, tzinfo=UTC)),
        ("2026-11-01T08:00", datetime(2026, 11, 1, 8, tzinfo=UTC)),
        ("2026-11-01T08:00:00Z", datetime(2026, 11, 1, 8, tzinfo=UTC)),
        ("2026-11-01 10:00+02:00", datetime(2026, 11, 1, 8, tzinfo=UTC)),
    ],
)
def test_time_arguments_take_durations_and_iso_8601(text: str, expected: datetime) -> None:
    assert parse_when(text, "--since", NOW) == expected


def test_time_argument_errors_show_both_forms() -> None:
    with pytest.raises(UserError) as err:
        parse_when("yesterday", "--since", NOW)
    assert "--since: 'yesterday'" in str(err.value) and "6h" in str(err.value)


def test_a_message_audited_then_released_counts_once_with_its_outcomes_side_by_side() -> None:
    judged = [AuditRecord.parse(e.to_json()) for e in a_report(3).entries]
    first = [replace(r, outcome="audit", mode="audit") for r in judged if r is not None]
    repeated = first + first  # an older release wrote each held match every cycle
    released = [
        replace(r, outcome="applied", mode="live", sender="", subject="", explanation=None)
        for r in first[:2]
    ]
    summary = summarise([*repeated, *released])
    (rule,) = summary.rules
    assert (rule.matches, rule.pairs, summary.entries) == (3, 3, 8)
    assert dict(rule.outcomes) == {"applied": 2, "audit": 1}
    shown = {m.record.message_id: m for m in rule.sample}
    applied = shown[first[0].message_id]
    assert applied.outcomes == ("audit", "applied")
    assert applied.side_by_side == "audit → applied"
    # The release's entry knows only the message: the mail's fields come from the judging one.
    assert applied.record.sender == first[0].sender and applied.record.subject == first[0].subject
    assert rule.domains == (("bad.example", 3),)
    out = io.StringIO()
    assert write_csv([*repeated, *released], out) == 3
    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert sorted(r["outcomes"] for r in rows) == ["audit", "audit;applied", "audit;applied"]
