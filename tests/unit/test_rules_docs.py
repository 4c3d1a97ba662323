"""docs/rules.md, the field catalogue, the operators and the JSON Schema must agree."""

from __future__ import annotations

import re
from typing import Any

from tagger.rules import rules_schema
from tagger.rules.field_model import STATUS_MEANINGS, STATUSES
from tagger.rules.fields import FIELDS
from tagger.rules.operators import OPERATORS
from testkit import ROOT as REPO

DOCS = (REPO / "docs" / "rules.md").read_text(encoding="utf-8")
KIND_ORDER = ["text", "address", "domain", "ip", "number", "bool", "time"]


def table_rows(first_header: str) -> list[list[str]]:
    """Return the cells of the markdown table whose first header cell is ``first_header``."""
    lines = DOCS.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(f"| {first_header} |"))
    rows = []
    for line in lines[start + 2 :]:
        if not line.startswith("|"):
            break
        rows.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return rows


def names(rows: list[list[str]]) -> list[str]:
    return [row[0].strip("`") for row in rows]


def test_field_table_matches_the_catalogue() -> None:
    rows = table_rows("Field")
    assert names(rows) == list(FIELDS)
    for row in rows:
        field = FIELDS[row[0].strip("`")]
        assert (row[1], row[2]) == (field.type_name, field.source), field.name
        assert row[3].startswith(field.description)
        assert row[4].startswith("`")  # every field has an example
        assert field.json and row[5].replace("`", "") == field.json, field.name


def test_every_field_says_where_it_comes_from_in_the_json() -> None:
    for field in FIELDS.values():
        sources = [part.split(": ", 1)[0] for part in field.json.split("; ")]
        if field.base is not None:
            assert field.json == FIELDS[field.base].json, field.name
        # A search-level field names its search path first; an info field only info.
        expected = ["search", "info"] if field.source == "search" else ["info"]
        if field.name == "status.detail":
            expected = ["search"]  # not available from message info
        assert sources == expected, field.name


def test_operator_table_matches_the_operators() -> None:
    rows = table_rows("Operator")
    assert names(rows) == list(OPERATORS)
    for row in rows:
        op = OPERATORS[row[0].strip("`")]
        assert row[1] == ", ".join(k for k in KIND_ORDER if k in op.kinds)
        assert row[3] == f"`{op.example}`"


def _properties(definition: str) -> list[str]:
    schema = rules_schema()
    return list(schema["$defs"][definition]["properties"])


def test_every_key_is_documented_with_an_example() -> None:
    assert names(table_rows("Key")) == _properties("rule")
    documented = {row[0].strip("`"): row for row in _all_key_rows()}
    for definition in ("rule", "search", "example", "condition"):
        for key in _properties(definition):
            if key in OPERATORS:
                continue  # in the operator table
            assert key in documented, f"{definition}.{key} is not documented"
            assert f"{key}:" in documented[key][-1], f"{key} has no example"


def _all_key_rows() -> list[list[str]]:
    rows: list[list[str]] = []
    for match in re.finditer(r"^\| Key \|", DOCS, flags=re.MULTILINE):
        lines = DOCS[match.start() :].splitlines()
        for line in lines[2:]:
            if not line.startswith("|"):
                break
            rows.append([cell.strip() for cell in line.strip("|").split(" | ")])
    return rows


def test_schema_knows_every_field_and_operator() -> None:
    condition = rules_schema()["$defs"]["condition"]["properties"]
    assert condition["field"]["enum"] == list(FIELDS)
    assert set(OPERATORS) <= set(condition)
    assert set(condition) == {
        "all",
        "any",
        "not",
        "field",
        "case_sensitive",
        "elements",
        "flags",
        *OPERATORS,
    }


def _walk(node: Any, path: str, out: list[str]) -> None:
    if isinstance(node, dict):
        for name, prop in node.get("properties", {}).items():
            if not isinstance(prop, dict) or not prop.get("description"):
                out.append(f"{path}.{name}")
        for key, value in node.items():
            _walk(value, f"{path}.{key}", out)
    elif isinstance(node, list):
        for i, value in enumerate(node):
            _walk(value, f"{path}[{i}]", out)


def test_every_schema_property_has_a_description_and_example() -> None:
    missing: list[str] = []
    _walk(rules_schema(), "$", missing)
    assert missing == []
    for definition in rules_schema()["$defs"].values():
        assert definition.get("description") and definition.get("examples")
        for name, prop in definition.get("properties", {}).items():
            has_example = "examples" in prop or "$ref" in prop
            assert has_example, f"{name} has no example in the schema"


def test_every_status_is_documented_with_its_meaning() -> None:
    rows = {row[0].strip("`"): row[1] for row in table_rows("Status")}
    assert list(rows) == list(STATUSES)
    assert rows == STATUS_MEANINGS
