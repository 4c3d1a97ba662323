"""How counts read in messages: ``1 cycle``, ``2 cycles`` (pure)."""

from __future__ import annotations

__all__ = ["plural"]

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
