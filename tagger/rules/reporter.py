"""Collects located problems while one rule file is compiled and checked."""

from __future__ import annotations

from collections.abc import Sequence

from tagger.errors import Problem, Severity
from tagger.yamlsource import Located, format_path


class Reporter:
    """Turns (path, message) pairs into :class:`Problem` objects located in ``doc``."""

    def __init__(self, doc: Located) -> None:
        self.doc = doc
        self.problems: list[Problem] = []

    def report(
        self,
        path: Sequence[str | int],
        message: str,
        hint: str = "",
        *,
        severity: Severity = "error",
        at_value: bool = False,
    ) -> None:
        """Record a problem at ``path`` (at the key, or at its value with ``at_value``)."""
        line, column = self.doc.value_position(path) if at_value else self.doc.position(path)
        self.problems.append(
            Problem(
                message,
                file=self.doc.file,
                line=line,
                column=column,
                path=format_path(path),
                severity=severity,
                hint=hint,
            )
        )

    def warn(self, path: Sequence[str | int], message: str, hint: str = "") -> None:
        """Record a warning at ``path``."""
        self.report(path, message, hint, severity="warning")
