"""The quick check's compiler: a JSON Schema turned into plain nested functions.

:func:`compile_check` turns a schema into functions that only answer "is
this valid?" (:mod:`tagger.yamldoc.quickcheck` caches them and uses them to
spare jsonschema's error collection where the answer is yes).

The answer is exact for the keywords it knows: True exactly when jsonschema
(Draft 2020-12, no format checker) reports no error. Where exactness would
need jsonschema's own equality rules (an ``enum``, ``const`` or
``uniqueItems`` over values other than text) the check gives up and says
False, which only means "ask jsonschema". A schema using any other keyword
(``prefixItems``, ``if``, ``$dynamicRef``, remote references, ...) is not
compiled at all.
"""

from __future__ import annotations

import numbers
import re
from collections.abc import Callable, Mapping
from typing import Any

__all__ = ["Check", "compile_check"]

Check = Callable[[Any], bool]

# Keywords that never make an instance invalid. (``format`` asserts nothing
# without a format checker, and the validator of :mod:`tagger.yamldoc.schema` has none.)
_ANNOTATIONS = frozenset(
    {
        "$schema",
        "$comment",
        "$defs",
        "title",
        "description",
        "examples",
        "default",
        "deprecated",
        "readOnly",
        "writeOnly",
        "format",
        "errorMessage",
    }
)
_OBJECT_KEYWORDS = frozenset(
    {
        "properties",
        "patternProperties",
        "additionalProperties",
        "required",
        "minProperties",
        "maxProperties",
    }
)


class _Unsure(Exception):
    """Only jsonschema can tell (its equality rules for values other than text)."""


class _NotSupported(Exception):
    """The schema uses a keyword this module does not implement."""


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Number) and not isinstance(value, bool)


def _is_integer(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    return isinstance(value, int) or (isinstance(value, float) and value.is_integer())


_TYPES: dict[str, Check] = {
    "array": lambda value: isinstance(value, list),
    "boolean": lambda value: isinstance(value, bool),
    "integer": _is_integer,
    "null": lambda value: value is None,
    "number": _is_number,
    "object": lambda value: isinstance(value, dict),
    "string": lambda value: isinstance(value, str),
}


def compile_check(
    schema: Mapping[str, Any] | bool, compiled: dict[int, tuple[Any, Check]] | None = None
) -> Check | None:
    """Return a function telling whether an instance is valid against ``schema``.

    The function returns True only when jsonschema would report no error; it
    returns False when the instance is invalid or when only jsonschema can
    tell. Returns None when ``schema`` uses a keyword this module does not
    implement. When ``compiled`` is given, every subschema's check is also
    stored there, keyed by the subschema's id (with the subschema, to keep
    the id meaningful).
    """
    try:
        check = _Compiler(schema, compiled if compiled is not None else {}).compile(schema)
    except _NotSupported:
        return None
    return _answering(check)


def _answering(check: Check) -> Check:
    """Wrap an internal check so that "only jsonschema can tell" reads as False."""

    def valid(instance: Any) -> bool:
        try:
            return check(instance)
        except (_Unsure, TypeError, ValueError, RecursionError):
            return False

    return valid


class _Compiler:
    """Compiles one schema document; ``$ref`` targets are compiled once each."""

    def __init__(self, root: Mapping[str, Any] | bool, compiled: dict[int, tuple[Any, Check]]):
        self._root = root
        self._refs: dict[str, list[Check]] = {}
        self._compiled = compiled

    def compile(self, schema: Any) -> Check:
        if schema is True:
            return _always
        if schema is False:
            return _never
        if not isinstance(schema, dict):
            raise _NotSupported
        checks: list[Check] = []
        if "type" in schema:  # first: the cheapest test, and often decisive
            checks.append(self._type(schema["type"]))
        if _OBJECT_KEYWORDS & schema.keys():
            checks.append(self._object(schema))
        for key, want in schema.items():
            if key in _ANNOTATIONS or key in _OBJECT_KEYWORDS or key == "type":
                continue
            if key == "$id" and schema is self._root:
                continue
            make = _KEYWORDS.get(key)
            if make is None:
                raise _NotSupported(key)
            checks.append(make(self, want))
        check = _all_of(checks)
        self._compiled[id(schema)] = (schema, _answering(check))
        return check

    def _type(self, want: Any) -> Check:
        names = [want] if isinstance(want, str) else list(want)
        if any(name not in _TYPES for name in names):
            raise _NotSupported("type")
        tests = [_TYPES[name] for name in names]
        if len(tests) == 1:
            return tests[0]
        return lambda value: any(test(value) for test in tests)

    def _object(self, schema: Mapping[str, Any]) -> Check:
        props = {name: self.compile(sub) for name, sub in schema.get("properties", {}).items()}
        pattern_map = schema.get("patternProperties", {})
        patterns = [(re.compile(p), self.compile(sub)) for p, sub in pattern_map.items()]
        joined = re.compile("|".join(pattern_map)) if pattern_map else None
        extra_schema = schema.get("additionalProperties", True)
        extra = None if extra_schema is True else self.compile(extra_schema)
        required = list(schema.get("required", ()))
        low = schema.get("minProperties", 0)
        high = schema.get("maxProperties")

        def check(value: Any) -> bool:
            if not isinstance(value, dict):
                return True
            if len(value) < low or (high is not None and len(value) > high):
                return False
            for name in required:
                if name not in value:
                    return False
            for key, item in value.items():
                if not isinstance(key, str):
                    raise _Unsure
                sub = props.get(key)
                if sub is not None and not sub(item):
                    return False
                for regex, pattern_check in patterns:
                    if regex.search(key) and not pattern_check(item):
                        return False
                if sub is None and extra is not None:
                    if joined is not None and joined.search(key):
                        continue
                    if not extra(item):
                        return False
            return True

        return check

    def _items(self, want: Any) -> Check:
        sub = self.compile(want)

        def check(value: Any) -> bool:
            if not isinstance(value, list):
                return True
            return all(sub(item) for item in value)

        return check

    def _ref(self, want: Any) -> Check:
        if not isinstance(want, str) or (want not in self._refs and not _local(want)):
            raise _NotSupported("$ref")
        cell = self._refs.get(want)
        if cell is None:
            cell = self._refs[want] = []
            cell.append(self.compile(_resolve(self._root, want)))
        target = cell  # filled by now, or (for a recursive schema) before any call
        return lambda value: target[0](value)


def _local(ref: str) -> bool:
    return ref == "#" or (ref.startswith("#/") and "~" not in ref and "%" not in ref)


def _resolve(root: Any, ref: str) -> Any:
    node = root
    for part in ref[2:].split("/") if ref != "#" else ():
        if not isinstance(node, dict) or part not in node:
            raise _NotSupported(ref)
        node = node[part]
    return node


def _always(value: Any) -> bool:
    return True


def _never(value: Any) -> bool:
    return False


def _all_of(checks: list[Check]) -> Check:
    if not checks:
        return _always
    if len(checks) == 1:
        return checks[0]

    def check(value: Any) -> bool:
        for one in checks:  # noqa: SIM110 - a plain loop: all() over a generator costs more here
            if not one(value):
                return False
        return True

    return check


def _enum(compiler: _Compiler, want: Any) -> Check:
    texts = frozenset(v for v in want if isinstance(v, str))
    others = [v for v in want if not isinstance(v, str)]

    def check(value: Any) -> bool:
        if isinstance(value, str):
            return value in texts  # text equals only text under jsonschema's rules
        if others:
            raise _Unsure
        return False

    return check


def _const(compiler: _Compiler, want: Any) -> Check:
    def check(value: Any) -> bool:
        if not isinstance(want, str):
            raise _Unsure
        return isinstance(value, str) and value == want

    return check


def _unique(compiler: _Compiler, want: Any) -> Check:
    def check(value: Any) -> bool:
        if not want or not isinstance(value, list):
            return True
        if not all(isinstance(item, str) for item in value):
            raise _Unsure
        return len(set(value)) == len(value)

    return check


def _pattern(compiler: _Compiler, want: Any) -> Check:
    regex = re.compile(want)
    return lambda value: not isinstance(value, str) or regex.search(value) is not None


def _bound(kind: type, test: Callable[[Any, Any], bool]) -> Callable[[_Compiler, Any], Check]:
    """A keyword that compares the size or the value of instances of ``kind``."""

    def make(compiler: _Compiler, want: Any) -> Check:
        if kind is numbers.Number:
            return lambda value: not _is_number(value) or test(value, want)
        return lambda value: not isinstance(value, kind) or test(value, want)

    return make


def _combine(kind: str) -> Callable[[_Compiler, Any], Check]:
    def make(compiler: _Compiler, want: Any) -> Check:
        if kind == "not":
            sub = compiler.compile(want)
            return lambda value: not sub(value)
        subs = [compiler.compile(s) for s in want]
        if kind == "allOf":
            return _all_of(subs)
        if kind == "anyOf":
            return lambda value: any(sub(value) for sub in subs)
        return lambda value: sum(1 for sub in subs if sub(value)) == 1

    return make


_KEYWORDS: dict[str, Callable[[_Compiler, Any], Check]] = {
    "$ref": _Compiler._ref,
    "items": _Compiler._items,
    "enum": _enum,
    "const": _const,
    "uniqueItems": _unique,
    "pattern": _pattern,
    "minLength": _bound(str, lambda v, n: len(v) >= n),
    "maxLength": _bound(str, lambda v, n: len(v) <= n),
    "minItems": _bound(list, lambda v, n: len(v) >= n),
    "maxItems": _bound(list, lambda v, n: len(v) <= n),
    "minimum": _bound(numbers.Number, lambda v, n: v >= n),
    "maximum": _bound(numbers.Number, lambda v, n: v <= n),
    "exclusiveMinimum": _bound(numbers.Number, lambda v, n: v > n),
    "exclusiveMaximum": _bound(numbers.Number, lambda v, n: v < n),
    "allOf": _combine("allOf"),
    "anyOf": _combine("anyOf"),
    "oneOf": _combine("oneOf"),
    "not": _combine("not"),
}
