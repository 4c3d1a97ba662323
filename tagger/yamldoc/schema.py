"""JSON Schema validation that speaks plainly and points at the source.

Given a :class:`~tagger.yamldoc.source.Located` document and a schema (Draft
2020-12), :func:`schema_problems` reports every violation as a located
:class:`~tagger.errors.Problem` with a short English message instead of
jsonschema's repr of the whole instance. Nothing here knows about rules or
configuration: the schema carries all the domain knowledge. A schema may
word a value's error itself with an ``errorMessage`` string next to the
failing keyword.
"""

from __future__ import annotations

import datetime as dt
import json
import re
from collections.abc import Mapping, Sequence
from typing import Any

from jsonschema.exceptions import ValidationError, relevance

from tagger.errors import Problem
from tagger.yamldoc.quickcheck import compiled_schema
from tagger.yamldoc.source import Located, format_path
from tagger.yamldoc.suggest import did_you_mean

Path_ = tuple[str | int, ...]

_TYPE_NAMES = {
    "object": "a mapping",
    "array": "a list",
    "string": "a string",
    "integer": "an integer",
    "number": "a number",
    "boolean": "true or false",
    "null": "nothing (null)",
}
_KEY_VALIDATORS = {"required", "additionalProperties", "unevaluatedProperties", "propertyNames"}
_BRANCHING = {"oneOf", "anyOf"}
_MAX_SHOWN = 60


def schema_problems(
    doc: Located, schema: Mapping[str, Any], *, base_path: Sequence[str | int] = ()
) -> list[Problem]:
    """Validate the data at ``base_path`` of ``doc`` against ``schema``.

    Returns every problem, sorted by position; an empty list when valid.
    Non-string mapping keys are reported and validated as their string form.
    """
    base: Path_ = tuple(base_path)
    instance: Any = doc.data
    for step in base:
        try:
            instance = instance[step]
        except (LookupError, TypeError):
            return []
    key_problems: list[Problem] = []
    # A document read from events has text keys only: no copy needed.
    clean = instance if doc.text_keys else _string_keys(instance, base, doc, key_problems, {})
    compiled = compiled_schema(schema)
    if compiled.surely_valid(clean) and not key_problems:
        return []
    problems: list[Problem] = []
    try:
        for error in compiled.validator.iter_errors(clean):
            problems.extend(_describe(error, doc, base))
    except RecursionError:
        line, column = doc.position(base)
        problems.append(Problem("document is nested too deeply", doc.file, line, column))
    # A non-text key the schema already rejects needs no second problem.
    taken = {(p.line, p.column) for p in problems}
    problems += [p for p in key_problems if (p.line, p.column) not in taken]
    unique = dict.fromkeys(problems)
    return sorted(unique, key=lambda p: (p.line, p.column, p.path, p.message))


def _string_keys(
    value: Any, path: Path_, doc: Located, out: list[Problem], seen: dict[int, Any]
) -> Any:
    """Return ``value`` with every mapping key a string; report the keys that were not."""
    if not isinstance(value, dict | list):
        return value
    if id(value) in seen:  # shared through an alias: convert once
        return seen[id(value)]
    if isinstance(value, list):
        result: Any = []
        seen[id(value)] = result
        result.extend(_string_keys(v, (*path, i), doc, out, seen) for i, v in enumerate(value))
        return result
    result = {}
    seen[id(value)] = result
    for key, item in value.items():
        if not isinstance(key, str):
            line, column = doc.position((*path, key))
            out.append(
                Problem(
                    f"keys must be text, got {_describe_value(key)}",
                    doc.file,
                    line,
                    column,
                    format_path((*path, key)),
                    hint=f"quote it: '{key}'",
                )
            )
        result[str(key)] = _string_keys(item, (*path, key), doc, out, seen)
    return result


def _describe(error: ValidationError, doc: Located, base: Path_) -> list[Problem]:
    """Return the problems one jsonschema error stands for."""
    path: Path_ = (*base, *error.absolute_path)
    if error.validator in _BRANCHING and error.context:
        wanted = _alternative_types(error)
        if wanted:
            line, column = doc.value_position(path)
            message = f"expected {wanted}, got {_describe_value(error.instance)}"
            return [Problem(message, doc.file, line, column, format_path(path))]
        return [p for sub in _best_branch(error) for p in _describe(sub, doc, base)]
    if error.validator in _KEY_VALIDATORS:
        return _key_problems(error, doc, path)
    message, hint = _value_message(error)
    line, column = doc.value_position(path)
    return [Problem(message, doc.file, line, column, format_path(path), hint=hint)]


def _alternative_types(error: ValidationError) -> str:
    """Return "a string or a mapping" when every alternative failed on type alone, else ""."""
    own = len(error.absolute_path)
    names: list[str] = []
    for sub in error.context or ():
        if sub.validator != "type" or len(sub.absolute_path) != own:
            return ""
        want = sub.validator_value
        for name in [want] if isinstance(want, str) else _as_list(want):
            if _TYPE_NAMES.get(name, name) not in names:
                names.append(_TYPE_NAMES.get(name, name))
    return " or ".join(names)


def _best_branch(error: ValidationError) -> list[ValidationError]:
    """Pick the errors of the oneOf/anyOf alternative the user most likely meant.

    Alternatives whose type does not even match the instance lose; then the
    one whose discriminating values (const/enum one level down) match; then
    the one with fewest errors; jsonschema's relevance breaks ties.
    """
    branches: dict[Any, list[ValidationError]] = {}
    for sub in error.context or ():
        branches.setdefault(sub.relative_schema_path[0], []).append(sub)

    def score(errors: list[ValidationError]) -> tuple[bool, int, int]:
        own = len(error.absolute_path)
        wrong_type = any(e.validator == "type" and len(e.absolute_path) == own for e in errors)
        wrong_tag = sum(
            e.validator in {"const", "enum"} and len(e.absolute_path) == own + 1 for e in errors
        )
        return (wrong_type, wrong_tag, len(errors))

    ranked = sorted(branches.values(), key=score)
    tied = [b for b in ranked if score(b) == score(ranked[0])]
    return max(tied, key=lambda errors: max(relevance(e) for e in errors))


def _key_problems(error: ValidationError, doc: Located, path: Path_) -> list[Problem]:
    """Problems about which keys a mapping has (unknown, missing, badly named)."""
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    instance = error.instance
    known = list(schema.get("properties", {}))
    out: list[Problem] = []
    if error.validator == "required" and isinstance(instance, Mapping):
        line, column = doc.position(path)
        for name in _as_list(error.validator_value):
            if name not in instance:
                out.append(
                    Problem(f"missing required key '{name}'", doc.file, line, column, _fmt(path))
                )
    elif error.validator in {"additionalProperties", "unevaluatedProperties"} and isinstance(
        instance, Mapping
    ):
        patterns = list(schema.get("patternProperties", {}))
        for name in instance:
            if name in known or _matches_any(str(name), patterns):
                continue
            if error.validator == "unevaluatedProperties" and f"'{name}'" not in error.message:
                continue
            line, column = doc.position((*path, name))
            out.append(
                Problem(
                    f"unknown key '{name}'",
                    doc.file,
                    line,
                    column,
                    _fmt((*path, name)),
                    hint=did_you_mean(str(name), known),
                )
            )
    elif error.validator == "propertyNames" and error.context:
        bad_key: Any = error.context[0].instance
        line, column = doc.position((*path, bad_key))
        message, _ = _value_message(error.context[0])
        out.append(
            Problem(
                f"key '{bad_key}' is not allowed: {message}", doc.file, line, column, _fmt(path)
            )
        )
    if not out:  # unusual shapes: fall back to jsonschema's words, kept short
        line, column = doc.position(path)
        out.append(Problem(_clip(error.message), doc.file, line, column, _fmt(path)))
    return out


def _matches_any(name: str, patterns: list[str]) -> bool:
    return any(re.search(p, name) for p in patterns)


def _value_message(error: ValidationError) -> tuple[str, str]:
    """Return (message, hint) for an error about a value."""
    schema = error.schema if isinstance(error.schema, Mapping) else {}
    custom = schema.get("errorMessage")
    want: Any = error.validator_value
    got = error.instance
    hint = ""
    match error.validator:
        case "type":
            types = [want] if isinstance(want, str) else list(want)
            names = " or ".join(_TYPE_NAMES.get(t, t) for t in types)
            message = f"expected {names}, got {_describe_value(got)}"
        case "enum":
            shown = (v if isinstance(v, str) else _show(v) for v in _as_list(want))
            message = "must be one of: " + ", ".join(dict.fromkeys(shown))
            if isinstance(got, str):
                hint = did_you_mean(got, [v for v in want if isinstance(v, str)])
        case "const":
            message = f"must be {_show(want)}"
        case "minimum":
            message = f"must be at least {want}, got {_show(got)}"
        case "maximum":
            message = f"must be at most {want}, got {_show(got)}"
        case "exclusiveMinimum":
            message = f"must be greater than {want}, got {_show(got)}"
        case "exclusiveMaximum":
            message = f"must be less than {want}, got {_show(got)}"
        case "multipleOf":
            message = f"must be a multiple of {want}"
        case "minLength":
            message = "must not be empty" if want == 1 else f"must be at least {want} characters"
        case "maxLength":
            message = f"must be at most {want} characters"
        case "minItems":
            message = "must not be empty" if want == 1 else f"must have at least {want} items"
        case "maxItems":
            message = f"must have at most {want} items"
        case "minProperties":
            message = "must not be empty" if want == 1 else f"must have at least {want} keys"
        case "maxProperties":
            message = "must have only one key" if want == 1 else f"must have at most {want} keys"
        case "uniqueItems":
            message = "items must not repeat"
        case "pattern":
            message = f"{_show(got)} does not match the pattern {want}"
        case "format":
            message = f"must be a valid {want}, got {_show(got)}"
        case "dependentRequired":
            message = _clip(error.message)
        case "oneOf":
            message = "matches more than one of the allowed forms; make it unambiguous"
        case "anyOf" | "not" | "false":
            message = "is not allowed here"
        case _:
            message = _clip(error.message)
    if isinstance(custom, str) and error.validator not in {"oneOf"}:
        # The schema's own words, and the value they are about (never a mapping or list).
        message = custom
        if isinstance(got, (str, int, float)) and not isinstance(got, bool):
            message = f"{custom}; got {_show(got)}"
    return message, hint


def _describe_value(value: Any) -> str:
    """Return how a value looks to the user, e.g. ``string 'x'`` or ``a list``."""
    if value is None:
        return "nothing (null)"
    if isinstance(value, bool):
        return f"boolean {str(value).lower()}"
    if isinstance(value, int):
        return f"integer {value}"
    if isinstance(value, float):
        return f"number {value}"
    if isinstance(value, str):
        return f"string {_show(value)}"
    if isinstance(value, Mapping):
        return "a mapping"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dt.date):
        return f"date {value.isoformat()}"
    return type(value).__name__


def _show(value: Any) -> str:
    """Render a value compactly (strings quoted, long values clipped)."""
    if isinstance(value, str):
        text = value if len(value) <= _MAX_SHOWN else value[:_MAX_SHOWN] + "..."
        return f"'{text}'"
    return _clip(json.dumps(value, default=str, ensure_ascii=False))


def _clip(text: str) -> str:
    return text if len(text) <= 3 * _MAX_SHOWN else text[: 3 * _MAX_SHOWN] + "..."


def _fmt(path: Path_) -> str:
    return format_path(path)


def _as_list(value: Any) -> list[Any]:
    return list(value) if isinstance(value, list | tuple) else []
