"""Tests for YAML loading with positions and located schema problems."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tagger.errors import Problem, UserError
from tagger.yamldoc.schema import schema_problems
from tagger.yamldoc.source import format_path, load_yaml, load_yaml_file
from tagger.yamldoc.suggest import did_you_mean

SCHEMA: dict[str, Any] = {
    "type": "object",
    "additionalProperties": False,
    "properties": {
        "rules": {
            "type": "array",
            "items": {
                "type": "object",
                "additionalProperties": False,
                "required": ["id"],
                "properties": {
                    "id": {"type": "string"},
                    "priority": {"type": "number"},
                    "mode": {"enum": ["enforce", "audit"]},
                    "name": {"type": "string", "minLength": 1},
                    "match": {
                        "type": "object",
                        "additionalProperties": False,
                        "properties": {
                            "all": {
                                "type": "array",
                                "items": {
                                    "oneOf": [
                                        {"type": "string"},
                                        {
                                            "type": "object",
                                            "additionalProperties": False,
                                            "required": ["field"],
                                            "properties": {
                                                "field": {"type": "string"},
                                                "regex": {"type": "string"},
                                            },
                                        },
                                    ]
                                },
                            }
                        },
                    },
                },
            },
        },
        "timeout": {"type": "string", "pattern": "^[0-9]+s$", "errorMessage": "must be like 30s"},
    },
}


def only(problems: list[Problem]) -> Problem:
    assert len(problems) == 1, problems
    return problems[0]


def raised(text: str) -> Problem:
    with pytest.raises(UserError) as info:
        load_yaml(text, "in.yaml")
    return only(info.value.problems)


def test_data_matches_safe_load() -> None:
    text = "a: [1, 2.5, true, null]\nb: {c: 'x', d: 2024-01-02}\ne: &x {k: 1}\nf: *x\n"
    assert load_yaml(text, "f.yaml").data == yaml.safe_load(text)


def test_empty_document_is_none() -> None:
    doc = load_yaml("# nothing\n", "f.yaml")
    assert doc.data is None
    assert doc.position(("a", 1)) == (1, 1)


def test_syntax_error_is_located_at_the_yaml_mark() -> None:
    problem = raised("a: 1\nb: [1, 2\nc: 3\n")
    assert problem.file == "in.yaml"
    assert problem.message == "invalid YAML: this '[' is never closed"
    # Where the unclosed construct opened, not where the parser gave up.
    assert (problem.line, problem.column) == (2, 4)
    assert "gave up at line 3" in problem.hint


def test_unclosed_flow_sequence_on_the_last_line_points_at_its_opening() -> None:
    text = "rules:\n  - id: a\n    description: x\n    search: {route: [inbound]}\n"
    text += "    match: {field: subject, contains: '[x'}\n    unless: {field: subject, equals: y}\n"
    problem = raised(text + "    tags: [Security/Phishing,\n")
    assert (problem.line, problem.column) == (7, 11)
    assert "']'" in problem.hint
    problem = raised("a: {b: 1\n")
    assert (problem.line, problem.column, problem.message[-19:]) == (1, 4, "'{' is never closed")


def test_bad_indentation_is_located() -> None:
    problem = raised("a:\n  b: 1\n c: 2\n")
    assert (problem.line, problem.column) == (3, 2)


def test_duplicate_key_is_refused_with_both_places() -> None:
    problem = raised("top:\n  a: 1\n  b: 2\n  a: 3\n")
    assert problem.message == "duplicate key 'a' in a mapping"
    assert (problem.line, problem.column) == (4, 3)
    assert "line 2, column 3" in problem.hint


def test_merge_keys_are_not_duplicates_and_locate_into_the_anchor() -> None:
    doc = load_yaml("base: &b\n  x: 1\nother:\n  <<: *b\n  y: 2\n", "f.yaml")
    assert doc.data["other"] == {"x": 1, "y": 2}
    assert doc.position(("other", "x")) == (2, 3)
    assert doc.position(("other", "y")) == (5, 3)


def test_recursive_alias_is_a_user_error() -> None:
    assert "recursive" in raised("a: &a [1, *a]\n").message


def test_alias_bomb_is_refused() -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    lines += [f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * 10)}]" for i in range(1, 8)]
    assert "too large" in raised("\n".join(lines) + "\n").message


def test_impossible_date_and_control_characters_are_user_errors() -> None:
    assert "month" in raised("d: 2024-13-45\n").message
    problem = raised("a: 1\nb: x\x07\n")
    assert (problem.line, problem.column) == (2, 5)


def test_positions_keys_values_items_and_missing_paths() -> None:
    doc = load_yaml("rules:\n  - id: one\n    tags: [a, b]\n", "f.yaml")
    assert doc.position(("rules",)) == (1, 1)
    assert doc.position(("rules", 0)) == (2, 5)
    assert doc.position(("rules", 0, "tags")) == (3, 5)
    assert doc.value_position(("rules", 0, "tags")) == (3, 11)
    assert doc.position(("rules", 0, "tags", 1)) == (3, 15)
    # Paths that go nowhere stop at the nearest existing ancestor.
    assert doc.position(("rules", 0, "nope", 3)) == (2, 5)
    assert doc.position(("rules", 9)) == (1, 1)


def test_unicode_columns_count_characters() -> None:
    doc = load_yaml("naïve: {ключ: 1, 名前: zoë}\n", "u.yaml")
    assert doc.position(("naïve", "名前")) == (1, 18)
    problems = schema_problems(
        doc,
        {"type": "object", "properties": {"naïve": {"additionalProperties": {"type": "string"}}}},
    )
    assert [(p.line, p.column, p.path) for p in problems] == [(1, 15, "naïve.ключ")]


def test_load_yaml_file_reports_unreadable_and_non_utf8(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="cannot read file"):
        load_yaml_file(tmp_path / "absent.yaml")
    bad = tmp_path / "latin1.yaml"
    bad.write_bytes("a: caf\xe9\n".encode("latin-1"))
    with pytest.raises(UserError, match="not valid UTF-8"):
        load_yaml_file(bad)
    good = tmp_path / "ok.yaml"
    good.write_text("a: 1\n", encoding="utf-8")
    assert load_yaml_file(good).file == str(good)


def test_format_path_and_did_you_mean() -> None:
    assert format_path(("rules", 2, "match", "all", 0)) == "rules[2].match.all[0]"
    assert format_path(()) == ""
    assert did_you_mean("priorty", ["priority", "mode"]) == "did you mean 'priority'?"
    assert did_you_mean("zzz", ["priority", "mode"]) == ""


def test_nested_unknown_key_with_did_you_mean_and_exact_position() -> None:
    text = "rules:\n  - id: a\n    match:\n      all:\n        - field: x\n          regx: y\n"
    problem = only(schema_problems(load_yaml(text, "r.yaml"), SCHEMA))
    assert problem.message == "unknown key 'regx'"
    assert problem.hint == "did you mean 'regex'?"
    assert problem.path == "rules[0].match.all[0].regx"
    assert (problem.file, problem.line, problem.column) == ("r.yaml", 6, 11)


def test_enum_type_required_and_custom_message() -> None:
    text = "rules:\n  - mode: enfroce\n    priority: high\ntimeout: 5m\n"
    problems = schema_problems(load_yaml(text, "r.yaml"), SCHEMA)
    got = [(p.line, p.column, p.path, p.message, p.hint) for p in problems]
    assert got == [
        (2, 5, "rules[0]", "missing required key 'id'", ""),
        (2, 11, "rules[0].mode", "must be one of: enforce, audit", "did you mean 'enforce'?"),
        (3, 15, "rules[0].priority", "expected a number, got string 'high'", ""),
        (4, 10, "timeout", "must be like 30s; got '5m'", ""),
    ]


def test_every_error_is_reported_not_just_the_first() -> None:
    text = "\n".join(f"  - id: r{i}\n    colour: red" for i in range(5))
    problems = schema_problems(load_yaml("rules:\n" + text + "\nextra: 1\n", "r.yaml"), SCHEMA)
    assert [p.message for p in problems] == ["unknown key 'colour'"] * 5 + ["unknown key 'extra'"]
    assert [p.line for p in problems] == [3, 5, 7, 9, 11, 12]


def test_one_of_reports_the_branch_that_was_meant() -> None:
    text = "rules:\n  - id: a\n    match:\n      all:\n        - fild: x\n"
    problems = schema_problems(load_yaml(text, "r.yaml"), SCHEMA)
    messages = [(p.message, p.hint) for p in problems]
    assert messages == [
        ("missing required key 'field'", ""),
        ("unknown key 'fild'", "did you mean 'field'?"),
    ]
    assert all("oneOf" not in p.message and "valid under" not in p.message for p in problems)


def test_huge_instances_are_not_dumped_into_messages() -> None:
    doc = load_yaml("rules: {" + ", ".join(f"k{i}: {i}" for i in range(500)) + "}\n", "r.yaml")
    problem = only(schema_problems(doc, SCHEMA))
    assert problem.message == "expected a list, got a mapping"


def test_non_string_keys_are_reported_once() -> None:
    problem = only(schema_problems(load_yaml("rules:\n  - id: a\n    1: x\n", "r.yaml"), SCHEMA))
    assert (problem.message, problem.line, problem.column) == ("unknown key '1'", 3, 5)
    open_schema = {"type": "object", "additionalProperties": {"type": "string"}}
    problem = only(schema_problems(load_yaml("a: x\ntrue: y\n", "r.yaml"), open_schema))
    assert problem.message == "keys must be text, got boolean true"
    assert (problem.line, problem.column, problem.path) == (2, 1, "True")


def test_base_path_validates_a_subtree_with_full_paths() -> None:
    doc = load_yaml("rules:\n  - id: a\n  - id: 3\n", "r.yaml")
    item_schema = SCHEMA["properties"]["rules"]["items"]
    problem = only(schema_problems(doc, item_schema, base_path=("rules", 1)))
    assert (problem.path, problem.line, problem.column) == ("rules[1].id", 3, 9)
    assert schema_problems(doc, item_schema, base_path=("rules", 0)) == []
