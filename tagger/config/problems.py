"""Collecting located problems while building the configuration."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from tagger.errors import Problem, Severity
from tagger.yamlsource import Located, format_path

PathLike = Sequence[str | int]


@dataclass
class Collector:
    """Gathers problems located in one YAML document (mutable: used while loading)."""

    doc: Located
    problems: list[Problem] = field(default_factory=list)

    def add(
        self,
        path: PathLike,
        message: str,
        *,
        hint: str = "",
        severity: Severity = "error",
        at_value: bool = True,
    ) -> None:
        """Record a problem at ``path``: its value's position, or its key's if not ``at_value``."""
        where = self.doc.value_position(path) if at_value else self.doc.position(path)
        self.problems.append(
            Problem(
                message,
                file=self.doc.file,
                line=where[0],
                column=where[1],
                path=format_path(path),
                severity=severity,
                hint=hint,
            )
        )

    def error_count(self) -> int:
        """Return how many problems of severity ``error`` were recorded."""
        return sum(p.severity == "error" for p in self.problems)
