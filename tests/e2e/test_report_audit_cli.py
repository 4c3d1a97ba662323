"""The audit report from tagger processes: live-cycle entries; text and CSV from the CLI."""

from __future__ import annotations

import csv
import io
import re
from datetime import datetime
from pathlib import Path

from tagger.audit.writer import write_entries
from tagger.rules import load_rules
from tagger.simulator import Simulator, SimulatorConfig
from tests.support.audit import a_report
from tests.support.daemon import RULES_DIR, audit_records, run_tagger, write_config


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
        # A mode: audit rule's matches are audit-only (outcome audit), like those awaiting
        # promotion; would-apply is a dry run's word.
        expected = {"live": "applied", "audit": "audit"}[r["mode"]]
        assert r["outcome"] == expected, r
        start = datetime.fromisoformat(r["window"]["start"])
        end = datetime.fromisoformat(r["window"]["end"])
        assert start <= datetime.fromisoformat(r["received"]) < end
        assert datetime.fromisoformat(r["timestamp"]) >= end
        assert r["run_id"] == records[0]["run_id"]
        assert r["recipients"]


def test_report_text_and_csv_from_the_command_line(tmp_path: Path) -> None:
    path = tmp_path / "audit.jsonl"
    write_entries(path, [a_report(3)])
    done = run_tagger("report", str(path), "--rules", str(RULES_DIR), "--csv", "-")
    assert done.returncode == 0, done.stderr
    assert len(list(csv.DictReader(io.StringIO(done.stdout)))) == 3
    text = run_tagger("report", str(path), "--rules", str(RULES_DIR))
    assert "rule phish: 3 messages, 3 tags (3 applied)" in text.stdout
    assert re.search(r"rule risky-attachment: 0 messages", text.stdout), text.stdout
