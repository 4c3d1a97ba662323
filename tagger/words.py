"""How counts and values read in messages: ``1 cycle``, ``'inbound'``, ``['pdf']`` (pure)."""

from __future__ import annotations

from typing import Any

__all__ = ["UNKNOWN_SEEN", "plural", "seen_text", "show"]

# What an explanation says of a value that needs the message info it lacks.
UNKNOWN_SEEN = "unknown (needs message info)"

# Nouns whose plural is not the singular plus "s".
_IRREGULAR = {"search": "searches", "entry": "entries", "was": "were", "is": "are"}


def plural(count: int, noun: str, many: str | None = None) -> str:
    """Return ``count`` and ``noun`` in the number it takes: ``1 window``, ``3 windows``.

    ``many`` gives the plural when it is not the noun plus ``s``
    (``searches``, ``entries`` are known).
    """
    if count == 1:
        return f"{count} {noun}"
    return f"{count} {many or _IRREGULAR.get(noun, noun + 's')}"


def show(value: Any) -> str:
    """Render an operand or field value compactly: ``'inbound'``, ``['pdf', 'docm']``, ``5``.

    The one way values are shown: rule labels, explanations (``explain``,
    ``promote``, reports) and messages.
    """
    if isinstance(value, str):
        return f"'{value}'"
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(show(v) for v in value) + "]"
    if value is None:
        return "absent"
    return str(value)


def seen_text(value: Any) -> str:
    """Render the value an explanation saw (absent for nothing or an empty list)."""
    if value == UNKNOWN_SEEN:
        return UNKNOWN_SEEN
    return show(value if value != [] else None)
