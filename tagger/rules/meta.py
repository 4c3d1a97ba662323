"""Rule metadata, as Sigma users expect: owner, references, created, modified, and
Sigma's own status, level, author and falsepositives.

None of it changes what a rule does (it is left out of the rule's content
hash, so editing it judges no mail again); it is shown by ``tagger explain``,
``tagger report`` and ``tagger rules``. ``status`` and ``level`` take Sigma's
values (the schema refuses others, with the list). Dates may be written
``2026-11-01`` (YAML reads that as a date) or ``2026/11/01`` (Sigma's form);
both are kept as ``2026-11-01``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from typing import Any

from tagger.yamldoc.problems import Problems

META_KEYS = (
    "owner",
    "references",
    "created",
    "modified",
    "status",
    "level",
    "author",
    "falsepositives",
)
# Sigma's values, in its order: how mature the rule is, and how much a match matters.
STATUSES = ("stable", "test", "experimental", "deprecated", "unsupported")
LEVELS = ("informational", "low", "medium", "high", "critical")
_DATE = re.compile(r"^(\d{4})[-/](\d{2})[-/](\d{2})$")


@dataclass(frozen=True, slots=True)
class RuleMeta:
    """Who owns a rule, where it comes from, and when it was written and last changed."""

    owner: str = ""
    references: tuple[str, ...] = ()
    created: str = ""
    modified: str = ""
    status: str = ""
    level: str = ""
    author: str = ""
    falsepositives: tuple[str, ...] = ()

    def to_json(self) -> dict[str, Any]:
        """Return the metadata that is set, as JSON-able data."""
        out: dict[str, Any] = {}
        for key in ("owner", "author", "status", "level"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        if self.references:
            out["references"] = list(self.references)
        for key in ("created", "modified"):
            if getattr(self, key):
                out[key] = getattr(self, key)
        if self.falsepositives:
            out["falsepositives"] = list(self.falsepositives)
        return out

    def lines(self) -> list[str]:
        """Return the metadata as short lines for people (empty when none is set)."""
        out = []
        if self.owner:
            out.append(f"owner: {self.owner}")
        graded = [f"{k} {getattr(self, k)}" for k in ("level", "status") if getattr(self, k)]
        if graded:
            out.append(", ".join(graded))
        if self.author:
            out.append(f"author: {self.author}")
        dates = [f"{k} {getattr(self, k)}" for k in ("created", "modified") if getattr(self, k)]
        if dates:
            out.append(", ".join(dates))
        out.extend(f"reference: {ref}" for ref in self.references)
        out.extend(f"false positive: {fp}" for fp in self.falsepositives)
        return out


def _date(value: Any) -> str | None:
    """Return ``value`` as ``YYYY-MM-DD``, or None when it is not a real date."""
    if isinstance(value, date):
        return value.isoformat()[:10]
    if isinstance(value, str):
        found = _DATE.match(value.strip())
        if found:
            try:
                return date(*(int(g) for g in found.groups())).isoformat()
            except ValueError:
                return None
    return None


def compile_meta(data: Any, path: tuple[str | int, ...], reporter: Problems) -> RuleMeta:
    """Return the metadata of the rule mapping ``data``; bad dates go to ``reporter``.

    The schema has checked the types, and the values of ``status`` and
    ``level``; dates are checked here (YAML may have read them as dates already).
    """
    if not isinstance(data, dict):
        return RuleMeta()
    dates: dict[str, str] = {}
    for key in ("created", "modified"):
        if key not in data:
            continue
        value = _date(data[key])
        if value is None:
            reporter.add(
                (*path, key),
                f"{key} is not a date: {data[key]!r}",
                "write it as 2026-11-01 (or 2026/11/01)",
                at_value=True,
            )
        else:
            dates[key] = value
    return RuleMeta(
        owner=_text(data.get("owner")),
        references=_texts(data.get("references")),
        created=dates.get("created", ""),
        modified=dates.get("modified", ""),
        status=_text(data.get("status"), STATUSES),
        level=_text(data.get("level"), LEVELS),
        author=_text(data.get("author")),
        falsepositives=_texts(data.get("falsepositives")),
    )


def _text(value: Any, allowed: tuple[str, ...] = ()) -> str:
    """Return ``value`` when it is a string (one of ``allowed`` when given), else ""."""
    if not isinstance(value, str) or (allowed and value not in allowed):
        return ""
    return value


def _texts(value: Any) -> tuple[str, ...]:
    """Return the strings of the list ``value`` (the schema has refused anything else)."""
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()
