"""``tagger validate``, ``tagger test`` and ``tagger explain`` end to end (in process)."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tagger.cli.main import main
from tests.support.rules import RULES_DIR

PHISH = str(RULES_DIR / "fixtures" / "phish-dmarc-fail.json")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def test_validate_shipped_rules(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "validate", str(RULES_DIR))
    assert code == 0
    assert out.strip().splitlines()[-1].startswith("ok: 7 rule(s) in 3 file(s)")


def test_validate_defaults_to_the_rules_directory(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.delenv("TAGGER_CONFIG", raising=False)
    monkeypatch.chdir(RULES_DIR.parent)
    assert run(capsys, "validate")[0] == 0
    monkeypatch.chdir(tmp_path)
    code, _, err = run(capsys, "validate")
    assert code == 2 and "no rule files given" in err


def test_validate_checks_tags_from_a_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    tags = [
        {"id": "1", "name": "Phishing", "path": "Security/Phishing"},
        {"id": "2", "name": "Spoofing", "path": "Security/Spoofing"},
    ]
    listing = tmp_path / "tags.json"
    listing.write_text(json.dumps({"meta": {"status": 200}, "data": tags}), encoding="utf-8")
    code, out, _ = run(capsys, "validate", "--tags-from", str(listing), str(RULES_DIR))
    assert code == 2
    assert "error: the account has no Smart Tag 'Bulk/Greymail' [rules[0].tags[0]]" in out
    # Where tags come from, and the ones the account has.
    assert "create it in the Mimecast Administration Console first" in out
    assert "the account has: Security/Phishing, Security/Spoofing)" in out
    assert "no Smart Tag 'Security/Phishing'" not in out


def test_test_command_passes_and_fails(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "test", str(RULES_DIR))
    assert code == 0
    assert "PASS phishing-suspect example#1 (lookalike PayPal domain" in out
    assert out.strip().splitlines()[-1] == "18 passed, 0 failed"
    # Break one rule: its examples must now fail, with the expected and actual tags.
    broken = tmp_path / "rules"
    shutil.copytree(RULES_DIR, broken)
    path = broken / "hygiene.yaml"
    path.write_text(path.read_text().replace("gte: 15", "gte: 50"), encoding="utf-8")
    code, out, _ = run(capsys, "test", "-q", str(broken))
    assert code == 1
    assert (
        "FAIL high-spam-delivered example#1 (lottery spam delivered): "
        "expected [Security/High spam delivered] got []"
    ) in out
    assert "✗ spam.score gte 50    (seen: 18)" in out
    assert out.strip().splitlines()[-1] == "16 passed, 2 failed"
    assert "PASS" not in out


def test_test_command_on_invalid_rules(capsys: pytest.CaptureFixture[str]) -> None:
    corpus = Path(__file__).parent.parent / "rules_corpus" / "unknown-field.yaml"
    code, out, _ = run(capsys, "test", str(corpus))
    assert code == 2
    assert "unknown field" in out and "no example was run" in out


def test_explain_text_and_json(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, _ = run(capsys, "explain", "--message", PHISH, str(RULES_DIR))
    assert code == 0
    assert "✓ phishing-suspect [enforce, priority 100]: MATCH → Security/Phishing" in out
    assert "✗ spoofed-own-domain [enforce, priority 110]: no match" in out
    assert "- risky-attachment [enforce, priority 80]: not evaluated: phishing-suspect" in out
    assert (
        out.strip().splitlines()[-1] == "decision: phishing-suspect [enforce] → Security/Phishing"
    )
    code, out, _ = run(capsys, "explain", "--json", "--message", PHISH, str(RULES_DIR))
    data = json.loads(out)
    assert data["decisions"] == [
        {
            "rule": "phishing-suspect",
            "tags": ["Security/Phishing"],
            "mode": "enforce",
            "awaiting_promotion": False,
        }
    ]
    assert len(data["rules"]) == 7


def test_explain_with_a_separate_summary(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    summary = tmp_path / "summary.json"
    summary.write_text(json.dumps({"route": "outbound"}), encoding="utf-8")
    code, out, _ = run(
        capsys,
        "explain",
        "--message",
        PHISH,
        "--summary",
        str(summary),
        "--rule",
        "phishing-suspect",
        str(RULES_DIR),
    )
    assert code == 0
    assert "✗ search: route in ['inbound']    (seen: 'outbound')" in out
    assert "decisions: none" in out


def test_explain_reports_a_bad_message_file(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bad = tmp_path / "bad.json"
    bad.write_text('{"id": "x",\n "spamInfo": }', encoding="utf-8")
    code, _, err = run(capsys, "explain", "--message", str(bad), str(RULES_DIR))
    assert code == 2
    assert f"{bad}:2:14: error: invalid JSON: Expecting value" in err


def test_explain_unknown_rule_id(capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(capsys, "explain", "--message", PHISH, "--rule", "phishing", str(RULES_DIR))
    assert code == 2
    assert "no rule with id 'phishing' (did you mean 'phishing-suspect'?)" in err


def test_a_bare_list_of_rules_is_explained(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    bare = tmp_path / "bare.yaml"
    bare.write_text("- id: r\n  description: x\n  tags: [T]\n", encoding="utf-8")
    code, out, _ = run(capsys, "validate", str(bare))
    assert code == 2
    assert "error: a rule file is a mapping with 'rules:', not a bare list" in out
