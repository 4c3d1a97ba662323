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
        self._counted = 0  # problems already looked at by error_count()
        self._errors = 0

    def error_count(self) -> int:
        """Return how many of :attr:`problems` are errors (so far).

        Cheap to ask after every rule: only problems added since the last
        call are looked at (asking by scanning the whole list made files with
        many errors quadratic).
        """
        problems = self.problems
        while self._counted < len(problems):
            if problems[self._counted].severity == "error":
                self._errors += 1
            self._counted += 1
        return self._errors

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
