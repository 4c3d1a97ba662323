"""Rule metadata (owner, references, created, modified): validated, shown, never changes a rule."""

from __future__ import annotations

import json
from pathlib import Path

from tagger import exitcodes
from tests.support.daemon import RULES_DIR, run_tagger
from tests.support.rules import metadata_rule_file


def test_bad_metadata_is_located(tmp_path: Path) -> None:
    bad_meta = "    owner: 5\n    created: yesterday\n    modified: 2026/02/30\n"
    bad = metadata_rule_file(tmp_path, bad_meta)
    done = run_tagger("validate", str(bad))
    assert done.returncode == exitcodes.USER_ERROR
    assert f"{bad}:7:12: error:" in done.stdout  # owner: not a string
    assert "a date is written 2026-11-01 (or 2026/11/01)" in done.stdout
    assert "modified is not a date: '2026/02/30'" in done.stdout


def test_explain_and_report_show_the_metadata(tmp_path: Path) -> None:
    fixture = RULES_DIR / "fixtures" / "phish-dmarc-fail.json"
    text = run_tagger("explain", "--message", str(fixture), str(RULES_DIR))
    assert text.returncode == 0, text.stderr
    head = text.stdout.split("✓ phishing-suspect", 1)[1].splitlines()[:3]
    assert head[1] == "  owner: secops@example.com"
    assert head[2] == "  created 2026-11-01, modified 2026-11-20"
    data = json.loads(run_tagger("explain", "--message", str(fixture), "--json").stdout)
    (phish,) = [r for r in data["rules"] if r["rule"] == "phishing-suspect"]
    assert phish["meta"]["owner"] == "secops@example.com"

    audit = tmp_path / "audit.jsonl"
    audit.write_text("", encoding="utf-8")  # no match yet: every rule is listed all the same
    page = tmp_path / "r.html"
    done = run_tagger("report", str(audit), "--rules", str(RULES_DIR), "--html", str(page))
    assert done.returncode == 0, done.stderr
    html = page.read_text(encoding="utf-8")
    assert "owner: secops@example.com" in html and "created: 2026-11-01" in html
    assert "https://www.mimecast.com/tech-connect/" in html
