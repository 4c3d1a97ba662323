"""Collecting located problems while one YAML document is checked.

The configuration loader and the rule compiler both walk a parsed document
and report what is wrong with it as they go; :class:`Problems` turns each
(path, message) into a :class:`~tagger.errors.Problem` that carries the file,
line and column of that path. Every call says where the mark goes
(``at_value``): under the key (an unknown or missing name) or at its value
(a value of the wrong kind).
"""

from __future__ import annotations

from collections.abc import Sequence

from tagger.errors import Problem, Severity
from tagger.yamldoc.source import Located, format_path

__all__ = ["PathLike", "Problems"]

PathLike = Sequence[str | int]


class Problems:
    """The problems found so far in one document (mutable: filled while checking it)."""

    def __init__(self, doc: Located, problems: Sequence[Problem] = ()) -> None:
        """Start with ``problems`` (for example the schema's) for the document ``doc``."""
        self.doc = doc
        self.problems: list[Problem] = list(problems)
        self._counted = 0  # problems already looked at by error_count()
        self._errors = 0

    def add(
        self,
        path: PathLike,
        message: str,
        hint: str = "",
        *,
        at_value: bool,
        severity: Severity = "error",
    ) -> None:
        """Record a problem at ``path``: at its value with ``at_value``, else at its key."""
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

    def warn(self, path: PathLike, message: str, hint: str = "", *, at_value: bool) -> None:
        """Record a warning at ``path`` (placed as :meth:`add` places it)."""
        self.add(path, message, hint, at_value=at_value, severity="warning")

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
