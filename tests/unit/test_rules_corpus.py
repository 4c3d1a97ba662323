"""The broken-rule corpus: each ``tests/rules_corpus/X.yaml`` must produce exactly the
problems listed in ``X.expected`` (one ``file:line:col: severity: message [path] (hint)``
a line), through the same loader ``tagger validate`` uses."""

from __future__ import annotations

from pathlib import Path

import pytest

from tagger.cli.main import main
from tagger.rules import check_rule_files

CORPUS = Path(__file__).parent.parent / "rules_corpus"
CASES = sorted(p.stem for p in CORPUS.glob("*.yaml"))


def test_corpus_is_complete() -> None:
    assert len(CASES) >= 20
    assert {p.stem for p in CORPUS.glob("*.expected")} == set(CASES)


@pytest.mark.parametrize("case", CASES)
def test_corpus_case(case: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(CORPUS)
    ruleset, problems = check_rule_files([Path(f"{case}.yaml")])
    expected = (CORPUS / f"{case}.expected").read_text(encoding="utf-8").splitlines()
    assert [str(p) for p in problems] == expected
    errors = any(line.split(": ")[1] == "error" for line in expected)
    assert (ruleset is None) is errors


@pytest.mark.parametrize("case", CASES)
def test_validate_prints_the_same_problems(
    case: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(CORPUS)
    code = main(["validate", f"{case}.yaml"])
    lines = capsys.readouterr().out.splitlines()
    expected = (CORPUS / f"{case}.expected").read_text(encoding="utf-8").splitlines()
    assert lines[:-1] == expected
    has_errors = any(": error: " in line for line in expected)
    assert code == (2 if has_errors else 0)
    assert lines[-1].startswith("invalid: " if has_errors else "ok: ")


def test_every_file_is_reported_in_one_run(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(CORPUS)
    assert main(["validate", "unknown-field.yaml", "bad-mode.yaml", "regex-lookahead.yaml"]) == 2
    out = capsys.readouterr().out
    for name in ("unknown-field.yaml:7:14", "bad-mode.yaml:6:11", "regex-lookahead.yaml:8:14"):
        assert name in out
