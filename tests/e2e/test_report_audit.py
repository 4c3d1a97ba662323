"""The audit report's entries, files, rotation, and `tagger report` without a browser."""

from __future__ import annotations

import csv
import io
import json
import re
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tagger.audit import read_records, summarise
from tagger.audit.csvout import write_csv
from tagger.audit.records import AuditRecord
from tagger.audit.writer import dry_run_path, rotated_paths, write_entries
from tagger.cli.timeargs import parse_when
from tagger.config.model import AuditRotation
from tagger.engine.plan import Action, MessagePlan
from tagger.engine.tally import CycleReport
from tagger.engine.window import Window
from tagger.errors import UserError
from tagger.mimecast.models import Address, TrackedEmail
from tagger.rules import load_rules
from tagger.simulator import Simulator, SimulatorConfig
from tests.support.daemon import RULES_DIR, audit_records, run_tagger, write_config

NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


class Decided:
    """A rule decision as the report sees it."""

    def __init__(self, rule_id: str, mode: str = "enforce") -> None:
        self.rule_id, self.mode, self.tags = rule_id, mode, ("Security/Phishing",)

    def explanation_json(self) -> dict[str, object]:
        return {"match": {"condition": "spam.score gte 5", "result": True, "field": "x", "seen": 7}}


def a_report(n: int, *, dry_run: bool = False, subject: str = "hello") -> CycleReport:
    report = CycleReport("main", dry_run, NOW, clock=lambda: NOW + timedelta(seconds=5))
    report.windows["q"] = Window(NOW - timedelta(hours=1), NOW)
    for i in range(n):
        summary = TrackedEmail(
            id=f"m{i}",
            received=NOW - timedelta(minutes=i),
            subject=subject,
            from_hdr=Address("eve@bad.example"),
            to=(Address("a@corp.example"), Address("a@corp.example"), Address("b@corp.example")),
        )
        action = Action(f"m{i}", "st-1", "Security/Phishing", "phish", "h" * 64, "enforce")
        plan = MessagePlan(f"m{i}", (action,), ())
        report.add_decisions(summary, [Decided("phish")], plan)
    return report


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


def test_live_cycle_entries_carry_the_rule_hash_and_window(tmp_path: Path) -> None:
    with Simulator(SimulatorConfig(seed=5, messages=120)) as sim:
        cfg = write_config(tmp_path, sim)
        done = run_tagger("once", "-c", str(cfg))
        assert done.returncode == 0, done.stderr
    records = audit_records(tmp_path / "audit.jsonl")
    assert records
    hashes = {r.id: r.content_hash for r in load_rules([RULES_DIR]).rules}
    for r in records:
        assert r["rule_hash"] == hashes[r["rule"]]
        assert r["mode"] in ("live", "audit") and r["outcome"] in ("applied", "would-apply")
        start = datetime.fromisoformat(r["window"]["start"])
        end = datetime.fromisoformat(r["window"]["end"])
        assert start <= datetime.fromisoformat(r["received"]) < end
        assert datetime.fromisoformat(r["timestamp"]) >= end
        assert r["run_id"] == records[0]["run_id"]
        assert r["recipients"]


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


def test_report_text_and_csv_from_the_command_line(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_entries(path, [a_report(3)])
    done = run_tagger("report", str(path), "--rules", str(RULES_DIR), "--csv", "-")
    assert done.returncode == 0, done.stderr
    assert len(list(csv.DictReader(io.StringIO(done.stdout)))) == 3
    text = run_tagger("report", str(path), "--rules", str(RULES_DIR))
    assert "rule phish: 3 matched (3 applied)" in text.stdout
    assert re.search(r"rule risky-attachment: 0 matched", text.stdout), text.stdout


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
