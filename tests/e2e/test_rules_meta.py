"""Rule metadata (owner, references, dates, and Sigma's status, level, author and
falsepositives): validated, shown, never changes a rule."""

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
    head = text.stdout.split("✓ phishing-suspect", 1)[1].splitlines()[:7]
    assert head[1:7] == [
        "  owner: secops@example.com",
        "  level high, status stable",
        "  author: Example Corp security team",
        "  created 2026-11-01, modified 2026-11-20",
        "  reference: https://www.mimecast.com/tech-connect/documentation/endpoint-reference/"
        "message-finder/get-message-info/",
        "  false positive: Partner mail through a forwarder that breaks SPF, which Mimecast"
        " rates high risk",
    ]
    data = json.loads(run_tagger("explain", "--message", str(fixture), "--json").stdout)
    (phish,) = [r for r in data["rules"] if r["rule"] == "phishing-suspect"]
    assert phish["meta"]["owner"] == "secops@example.com"
    assert (phish["meta"]["level"], phish["meta"]["status"]) == ("high", "stable")
    assert phish["meta"]["author"] == "Example Corp security team"
    assert phish["meta"]["falsepositives"][0].startswith("Partner mail through a forwarder")

    audit = tmp_path / "audit.jsonl"
    audit.write_text("", encoding="utf-8")  # no match yet: every rule is listed all the same
    page = tmp_path / "r.html"
    done = run_tagger("report", str(audit), "--rules", str(RULES_DIR), "--html", str(page))
    assert done.returncode == 0, done.stderr
    html = page.read_text(encoding="utf-8")
    assert "owner: secops@example.com" in html and "created: 2026-11-01" in html
    assert "https://www.mimecast.com/tech-connect/" in html
    assert "level: high · status: stable · owner: secops@example.com" in html
    assert "author: Example Corp security team" in html
    assert "False positives:" in html and "forwarder that breaks SPF" in html
    # The plain-text report names the level and status beside the rule's figures.
    plain = run_tagger("report", str(audit), "--rules", str(RULES_DIR))
    assert plain.returncode == 0, plain.stderr
    lines = plain.stdout.splitlines()
    at = next(i for i, ln in enumerate(lines) if ln.startswith("  rule phishing-suspect:"))
    assert lines[at + 1] == "    level high · status stable · owner secops@example.com"
