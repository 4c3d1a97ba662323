"""A quick yes/no JSON Schema check, exactly as strict as jsonschema.

jsonschema builds a validator object for every node it visits and collects
errors as it goes: right for explaining a mistake, slow for confirming that
forty thousand rules are fine. :func:`compile_check` turns a schema into
plain nested functions that only answer "is this valid?", so that
:mod:`tagger.yamldoc.schema` runs jsonschema only where the answer is no (and
takes its located, worded errors from there).

The answer is True exactly when jsonschema (Draft 2020-12, no format
checker) reports no error; False only means "ask jsonschema". Which
keywords are compiled, and where the check gives up, is said by its
compiler, :mod:`tagger.yamldoc.checkcompiler`.

The compiled forms are cached: :func:`compiled_schema` checks a schema
against its meta-schema and compiles it the first time it is used, into a
jsonschema validator (for the located, worded errors) and the quick check.
Within a list, jsonschema only looks at the items the quick check could not
accept, so one bad rule among forty thousand costs one rule's worth of error
collection. Schemas are treated as constant data: one changed in place after
its first use keeps its old compiled form.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import ValidationError
from jsonschema.protocols import Validator
from jsonschema.validators import extend

from tagger.yamldoc.checkcompiler import Check, compile_check

__all__ = ["Check", "CompiledSchema", "compile_check", "compiled_schema"]


# One compiled validator per schema, built once and reused.
_MAX_CACHED = 64
# id(schema) -> (schema, its compiled form); the schema is kept so the id stays its own.
_CACHE: dict[int, tuple[Any, CompiledSchema]] = {}
# id(subschema) -> (subschema, quick check), for every subschema of a cached schema.
_SUBCHECKS: dict[int, tuple[Any, Check]] = {}
_ITEMS = Draft202012Validator.VALIDATORS["items"]


@dataclass(frozen=True)
class CompiledSchema:
    """A schema ready to use: the jsonschema validator and, if possible, a quick check."""

    validator: Validator
    quick: Check | None

    def surely_valid(self, instance: Any) -> bool:
        """True when the quick check accepts ``instance`` (jsonschema would find nothing)."""
        return self.quick is not None and self.quick(instance)


def compiled_schema(schema: Mapping[str, Any]) -> CompiledSchema:
    """Return the compiled form of ``schema``, building it on first use.

    Raises:
        jsonschema.exceptions.SchemaError: ``schema`` is not a valid JSON Schema.
    """
    entry = _CACHE.get(id(schema))
    if entry is not None and entry[0] is schema:
        return entry[1]
    Draft202012Validator.check_schema(schema)
    if len(_CACHE) >= _MAX_CACHED:  # many throwaway schemas (tests): start afresh
        _CACHE.clear()
        _SUBCHECKS.clear()
    built = CompiledSchema(_Validator(schema), compile_check(schema, _SUBCHECKS))
    _CACHE[id(schema)] = (schema, built)
    return built


def _items(
    validator: Any, items: Any, instance: Any, schema: Mapping[str, Any]
) -> Iterator[ValidationError]:
    """jsonschema's ``items``, skipping the items the quick check accepts (they have no error)."""
    entry = _SUBCHECKS.get(id(items))
    if entry is None or entry[0] is not items or not isinstance(instance, list):
        yield from _ITEMS(validator, items, instance, schema)
        return
    if "prefixItems" in schema:  # pragma: no cover - such schemas are never compiled
        yield from _ITEMS(validator, items, instance, schema)
        return
    quick = entry[1]
    for index, item in enumerate(instance):
        if not quick(item):
            yield from validator.descend(item, items, path=index)


# jsonschema's extend() has no type hints.
_Validator: type[Validator] = extend(Draft202012Validator, {"items": _items})  # type: ignore[no-untyped-call]
