"""The field reference: every rule field, generated from the catalogue (pure).

``tagger fields`` and the manual page show it. Each entry comes from the
catalogue itself (:data:`tagger.rules.fields.FIELDS`): its JSON path, type,
source, description and example; the operators its kind takes
(:func:`tagger.rules.operators.operators_for`); its known values with their
meanings (:mod:`tagger.rules.field_values`). Nothing is copied by hand, so
the reference cannot fall behind the rule language.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from tagger.rules.field_values import known_values
from tagger.rules.fields import FIELDS
from tagger.rules.operators import operators_for

GLOB = frozenset("*?[")


@dataclass(frozen=True, slots=True)
class FieldDoc:
    """One field as the reference shows it.

    ``values`` pairs each known value with its meaning ("" when plain);
    ``strict`` says whether a rule asking for another value is an error
    (else a warning: the service documents no closed set).
    """

    name: str
    type_name: str
    source: str
    json_path: str
    description: str
    example: Any
    operators: tuple[str, ...]
    values: tuple[tuple[str, str], ...]
    strict: bool
    is_list: bool

    def as_dict(self) -> dict[str, Any]:
        """Return the entry as JSON-ready data (``tagger fields --json``)."""
        return {
            "field": self.name,
            "type": self.type_name,
            "source": self.source,
            "json": self.json_path,
            "description": self.description,
            "example": self.example,
            "operators": list(self.operators),
            "values": [{"value": v, "meaning": m} for v, m in self.values],
            "values_closed": self.strict,
        }


def matches(pattern: str, *texts: str) -> bool:
    """Return whether ``pattern`` finds one of ``texts``.

    A pattern with ``*``, ``?`` or ``[`` is a shell glob over the whole text
    (``spf.*``); any other is a substring (``dmarc``, ``spamInfo``). Both
    ignore case.
    """
    wanted = pattern.casefold()
    if GLOB & set(pattern):
        return any(fnmatch.fnmatchcase(t.casefold(), wanted) for t in texts)
    return any(wanted in t.casefold() for t in texts)


def field_docs(pattern: str | None = None) -> list[FieldDoc]:
    """Return the reference entries of every field, or of those ``pattern`` finds.

    The pattern is matched against each field's name and its JSON path (see
    :func:`matches`); the catalogue's order is kept.
    """
    out = []
    for field in FIELDS.values():
        if pattern and not matches(pattern, field.name, field.json):
            continue
        out.append(
            FieldDoc(
                name=field.name,
                type_name=field.type_name,
                source=field.source,
                json_path=field.json,
                description=field.description,
                example=field.example,
                operators=operators_for(field.kind),
                values=known_values(field),
                strict=field.strict,
                is_list=field.is_list,
            )
        )
    return out


def _values_line(doc: FieldDoc) -> list[str]:
    if not doc.values:
        return []
    head = "values" if doc.strict else "known values (others are possible)"
    if not any(meaning for _v, meaning in doc.values):
        return [f"  {head}: {', '.join(v for v, _m in doc.values)}"]
    lines = [f"  {head}:"]
    width = max(len(v) for v, _m in doc.values)
    for value, meaning in doc.values:
        lines.append(f"    {value:<{width}}  {meaning}".rstrip())
    return lines


def render_text(docs: Iterable[FieldDoc]) -> str:
    """Return the reference as plain text: a paragraph per field."""
    blocks = []
    for doc in docs:
        lines = [
            f"{doc.name}  ({doc.type_name}; from {doc.source})",
            f"  {doc.description}",
            f"  json: {doc.json_path}",
            f"  operators: {', '.join(doc.operators)}"
            + ("  (on each element: elements: any | all)" if doc.is_list else ""),
            *_values_line(doc),
            f"  example: {{field: {doc.name}, {_example_operator(doc)}: {_show(doc.example)}}}",
        ]
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks) + ("\n" if blocks else "")


def render_json(docs: Iterable[FieldDoc]) -> str:
    """Return the reference as a JSON array (``tagger fields --json``)."""
    return json.dumps([d.as_dict() for d in docs], indent=2, ensure_ascii=False) + "\n"


def _example_operator(doc: FieldDoc) -> str:
    for name in ("equals", "gte", "contains"):
        if name in doc.operators:
            return name
    return doc.operators[0]


def _show(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return json.dumps(value) if not value.replace(".", "").isalnum() else value
    if isinstance(value, Mapping | list):
        return json.dumps(value)
    return str(value)
