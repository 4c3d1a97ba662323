"""The quick schema check agrees with jsonschema, and schema problems stay the same.

:func:`tagger.yamldoc.quickcheck.compile_check` must say "valid" exactly when
jsonschema finds no error (it may say "not sure" only where jsonschema's own
equality rules decide). :mod:`tagger.yamldoc.quickcheck` lets jsonschema skip
the list items the quick check accepts: the errors must be those of a plain
jsonschema run.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from jsonschema import Draft202012Validator

from tagger.config.loader import config_schema
from tagger.errors import UserError
from tagger.rules.loader import rules_schema
from tagger.yamldoc.quickcheck import compile_check, compiled_schema
from tagger.yamldoc.schema import schema_problems
from tagger.yamldoc.source import load_yaml, load_yaml_file

REPO = Path(__file__).resolve().parents[2]

# Every keyword the quick check implements, in one schema.
SCHEMA: dict[str, Any] = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "$id": "https://example.com/test.schema.json",
    "type": "object",
    "additionalProperties": False,
    "minProperties": 1,
    "maxProperties": 6,
    "required": ["name"],
    "patternProperties": {"^x-": {"type": "integer"}},
    "properties": {
        "name": {"type": "string", "minLength": 1, "maxLength": 5, "pattern": "^[a-z]"},
        "mode": {"enum": ["on", "off", 3, None]},
        "kind": {"const": "fixed"},
        "size": {"type": ["integer", "null"], "minimum": 0, "maximum": 10},
        "ratio": {"type": "number", "exclusiveMinimum": 0, "exclusiveMaximum": 1},
        "tags": {"type": "array", "minItems": 1, "maxItems": 3, "uniqueItems": True},
        "node": {"$ref": "#/$defs/node"},
        "either": {"oneOf": [{"type": "string"}, {"type": "integer", "minimum": 5}]},
        "any": {"anyOf": [{"type": "boolean"}, {"type": "array", "items": {"type": "string"}}]},
        "both": {"allOf": [{"type": "string"}, {"not": {"const": "no"}}]},
        "free": {},
        "never": False,
        "extra": {"type": "object", "additionalProperties": {"type": "string"}},
    },
    "$defs": {
        "node": {
            "type": "object",
            "additionalProperties": False,
            "properties": {"value": {"type": "integer"}, "children": {"items": {"$ref": "#"}}},
        }
    },
}

_values = st.recursive(
    st.one_of(
        st.none(),
        st.booleans(),
        st.integers(-3, 12),
        st.floats(-1, 2),
        st.sampled_from(["", "a", "abc", "Abc", "abcdef", "on", "off", "fixed", "no", "x-1"]),
    ),
    lambda inner: st.one_of(
        st.lists(inner, max_size=4),
        st.dictionaries(
            st.sampled_from(["name", "value", "children", "x-a", "other", "mode"]),
            inner,
            max_size=3,
        ),
    ),
    max_leaves=10,
)
_instances = st.dictionaries(
    st.sampled_from([*SCHEMA["properties"], "x-n", "x-", "unknown"]), _values, max_size=6
)


def jsonschema_valid(schema: Any, instance: Any) -> bool:
    return not any(True for _ in Draft202012Validator(schema).iter_errors(instance))


@given(st.one_of(_instances, _values))
def test_the_quick_check_never_calls_an_invalid_instance_valid(instance: Any) -> None:
    check = compile_check(SCHEMA)
    assert check is not None
    if check(instance):
        assert jsonschema_valid(SCHEMA, instance)
    elif jsonschema_valid(SCHEMA, instance):
        # "Not sure" is allowed only where jsonschema's equality rules decide.
        assert _needs_jsonschema_equality(instance), instance


def _needs_jsonschema_equality(instance: Any) -> bool:
    """Whether an enum, const or uniqueItems anywhere meets a value other than text."""
    if isinstance(instance, list):
        return any(_needs_jsonschema_equality(item) for item in instance)
    if not isinstance(instance, dict):
        return False
    tags = instance.get("tags", [])
    return (
        not isinstance(instance.get("mode", ""), str)
        or not isinstance(instance.get("kind", ""), str)
        or (isinstance(tags, list) and not all(isinstance(t, str) for t in tags))
        or any(_needs_jsonschema_equality(value) for value in instance.values())
    )


def test_the_quick_check_accepts_what_is_valid() -> None:
    check = compile_check(SCHEMA)
    assert check is not None
    valid = {
        "name": "ab",
        "x-count": 3,
        "size": None,
        "ratio": 0.5,
        "tags": ["a", "b"],
        "node": {"value": 1, "children": [{"name": "a"}]},
    }
    assert jsonschema_valid(SCHEMA, valid) and check(valid)
    for key, bad in [("name", "Ab"), ("x-count", 1.5), ("ratio", 1), ("tags", ["a", "a"])]:
        instance = {**valid, key: bad}
        assert not jsonschema_valid(SCHEMA, instance) and not check(instance), key


def test_schemas_with_other_keywords_are_not_compiled() -> None:
    assert compile_check({"prefixItems": [{"type": "string"}]}) is None
    assert compile_check({"$ref": "https://example.com/other.json"}) is None
    assert compile_check({"if": {"type": "string"}, "then": {"minLength": 1}}) is None
    assert compile_check({"properties": {"a": {"$id": "inner"}}}) is None


def test_the_shipped_schemas_compile_and_accept_the_shipped_files() -> None:
    rules = compiled_schema(rules_schema())
    assert rules.quick is not None
    for file in sorted((REPO / "rules").glob("*.yaml")):
        assert rules.surely_valid(load_yaml_file(file).data), file
    config = compiled_schema(config_schema())
    assert config.quick is not None
    assert config.surely_valid(load_yaml_file(REPO / "config.example.yaml").data)


def _errors(validator: Any, instance: Any) -> list[tuple[str, str, str]]:
    return sorted(
        (str(e.validator), "/".join(map(str, e.absolute_path)), e.message)
        for e in validator.iter_errors(instance)
    )


def _corpus_documents() -> list[Path]:
    """The corpus files that parse (their problems are about rules, not YAML)."""
    files = []
    for file in sorted((REPO / "tests" / "rules_corpus").glob("*.yaml")):
        try:
            if isinstance(load_yaml_file(file).data, dict):
                files.append(file)
        except UserError:
            continue
    return files


@pytest.mark.parametrize("file", _corpus_documents(), ids=lambda p: p.name)
def test_skipping_valid_rules_leaves_the_errors_of_plain_jsonschema(file: Path) -> None:
    schema = rules_schema()
    # Bury the file's rules among valid ones: the errors must not change.
    valid = copy.deepcopy(load_yaml_file(REPO / "rules" / "security.yaml").data["rules"])
    data = copy.deepcopy(load_yaml_file(file).data)
    if isinstance(data.get("rules"), list):
        data["rules"] = valid + data["rules"] + valid
    plain = Draft202012Validator(schema)
    assert _errors(compiled_schema(schema).validator, data) == _errors(plain, data)


def test_one_bad_rule_among_many_is_reported_alone_and_located() -> None:
    rule = "  - id: r{n}\n    description: d\n    tags: [T/a]\n"
    text = "rules:\n" + "".join(rule.format(n=n) for n in range(500))
    text += "  - id: bad\n    description: d\n    tags: [T/a]\n    mode: enfroce\n"
    problems = schema_problems(load_yaml(text, "r.yaml"), rules_schema())
    assert [(p.line, p.column, p.path, p.message) for p in problems] == [
        (1505, 11, "rules[500].mode", "must be one of: enforce, audit")
    ]
    assert problems[0].hint == "did you mean 'enforce'?"
