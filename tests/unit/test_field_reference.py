"""`tagger fields [PATTERN]` and the man page's FIELDS section: every field of the catalogue,
with its JSON path, type, operators and known values, and a pattern that filters."""

from __future__ import annotations

import json

import pytest

from tagger.cli.main import build_parser, main
from tagger.cli.manpage import render
from tagger.rules.field_values import MEANINGS
from tagger.rules.fields import FIELDS
from tagger.rules.operators import operators_for
from tagger.rules.reference import field_docs, matches


def run(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["fields", *args])
    out = capsys.readouterr()
    return code, out.out, out.err


def test_every_field_of_the_catalogue_is_listed_with_its_path_type_and_operators(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, _ = run(capsys)
    assert code == 0
    heads = [line.split("  (")[0] for line in out.splitlines() if line and not line[0].isspace()]
    assert heads == list(FIELDS)
    for field in FIELDS.values():
        block = out.split(f"\n{field.name}  (", 1)[-1] if field.name != heads[0] else out
        block = block.split("\n\n", 1)[0]
        assert f"json: {field.json}" in block, field.name
        assert field.type_name in block.splitlines()[0], field.name
        assert ", ".join(operators_for(field.kind)) in block, field.name


def test_json_carries_every_field_and_its_known_values(capsys: pytest.CaptureFixture[str]) -> None:
    code, out, _ = run(capsys, "--json")
    assert code == 0
    entries = {e["field"]: e for e in json.loads(out)}
    assert list(entries) == list(FIELDS)
    for name, field in FIELDS.items():
        entry = entries[name]
        assert entry["json"] == field.json and entry["source"] == field.source
        assert entry["operators"] == list(operators_for(field.kind))
        assert [v["value"] for v in entry["values"]][: len(field.values)] == list(field.values)
        assert entry["values_closed"] == field.strict
    statuses = {v["value"]: v["meaning"] for v in entries["status"]["values"]}
    assert statuses["held"] and statuses["bounced"] and statuses["archived"]


def test_every_listed_value_has_a_meaning_and_every_meaning_a_field() -> None:
    assert set(MEANINGS) <= set(FIELDS)
    plain = {"received.weekday"}  # the weekdays need no gloss
    for doc in field_docs():
        if doc.name not in plain:
            assert all(meaning for _v, meaning in doc.values), doc.name


@pytest.mark.parametrize(
    ("pattern", "expected"),
    [
        ("spf.*", {"spf.result", "spf.allow"}),
        (
            "*.RESULT",
            {f"{c}.result" for c in ("spf", "dkim", "dmarc", "rbl")}
            | {"permitted_sender.result", "managed_sender.result"},
        ),
        ("dmarc", {"dmarc.result", "dmarc.allow"}),
        ("smartTags", {n for n, f in FIELDS.items() if "smartTags" in f.json}),
    ],
)
def test_a_pattern_keeps_the_fields_it_finds(
    capsys: pytest.CaptureFixture[str], pattern: str, expected: set[str]
) -> None:
    code, out, _ = run(capsys, pattern, "--json")
    assert code == 0
    found = {e["field"] for e in json.loads(out)}
    assert expected and found == expected


def test_a_pattern_finding_nothing_is_a_user_error_with_the_fix(
    capsys: pytest.CaptureFixture[str],
) -> None:
    code, out, err = run(capsys, "no-such-field")
    assert code == 2 and out == ""
    assert "'no-such-field'" in err and "tagger fields" in err and "spf.*" in err


def test_glob_and_substring_rules() -> None:
    assert matches("spf.*", "spf.result") and not matches("spf.*", "dkim.result")
    assert matches("SPF", "spf.result") and not matches("spf?", "spf.result")


def test_the_man_page_documents_every_field() -> None:
    page = render(build_parser())
    section = page.split(".SH FIELDS\n", 1)[1].split(".SH EXIT STATUS", 1)[0]
    for field in FIELDS.values():
        assert f"\\fB{field.name.replace('-', chr(92) + '-')}\\fR ({field.type_name}" in section
    assert "bounced (not delivered: returned to the sender)" in section


@pytest.mark.parametrize("shell", ["bash", "zsh"])
def test_shell_completion_knows_the_new_commands(shell: str) -> None:
    import shtab

    script = shtab.complete(build_parser(), shell=shell)
    assert "fields" in script and "rules" in script and "--json" in script
