"""The one user-facing error type and the located problems it carries.

Only the CLI catches :class:`UserError`; it prints every problem (no traceback)
and exits with status 2. Everything else that goes wrong is a bug or an
operational failure and exits with status 1.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

Severity = Literal["error", "warning"]


@dataclass(frozen=True, slots=True)
class Problem:
    """One thing wrong with a user's input, located as precisely as we can.

    ``file`` is the path as the user gave it; ``line`` and ``column`` are
    1-based (0 when unknown); ``path`` is the location inside the document,
    e.g. ``rules[2].match.all[0].regex``.
    """

    message: str
    file: str = ""
    line: int = 0
    column: int = 0
    path: str = ""
    severity: Severity = "error"
    hint: str = ""

    def location(self) -> str:
        """Return ``file:line:column`` (parts that are unknown are left out).

        A problem with no file (a command's arguments) is the program's own:
        ``tagger``, as command-line tools name themselves in their errors.
        """
        parts = [self.file or "tagger"]
        if self.line:
            parts.append(str(self.line))
            if self.column:
                parts.append(str(self.column))
        return ":".join(parts)

    def __str__(self) -> str:
        where = self.location()
        inside = f" [{self.path}]" if self.path else ""
        hint = f" ({self.hint})" if self.hint else ""
        return f"{where}: {self.severity}: {self.message}{inside}{hint}"


@dataclass
class UserError(Exception):
    """Raised when the user's configuration, rules or arguments are wrong.

    Carries every problem found, so one run reports them all at once.
    """

    problems: list[Problem] = field(default_factory=list)
    summary: str = ""

    def __post_init__(self) -> None:
        super().__init__(str(self))

    @classmethod
    def single(cls, message: str, **where: str | int) -> UserError:
        """Build an error holding one problem; ``where`` fills Problem fields."""
        return cls([Problem(message, **where)])  # type: ignore[arg-type]

    @property
    def errors(self) -> list[Problem]:
        """Return the problems of severity ``error``."""
        return [p for p in self.problems if p.severity == "error"]

    def __str__(self) -> str:
        lines = [self.summary] if self.summary else []
        lines.extend(str(p) for p in self.problems)
        return "\n".join(lines) or "invalid input"


def raise_if_errors(problems: Iterable[Problem], summary: str = "") -> None:
    """Raise :class:`UserError` if any problem is an error; warnings pass."""
    found = list(problems)
    if any(p.severity == "error" for p in found):
        raise UserError(found, summary)
