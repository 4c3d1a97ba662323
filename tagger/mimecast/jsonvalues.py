"""Reading scalar JSON values leniently: the wrong type is treated as missing.

Real Mimecast data omits fields, nulls them, and sends numbers as strings;
the response parsers share these readers and never raise.
"""

from __future__ import annotations

from typing import Any


def as_str(value: Any) -> str | None:
    """Return ``value`` as a string if it is one (numbers are stringified), else None."""
    if isinstance(value, str):
        return value
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return str(value)
    return None


def as_num(value: Any) -> float | None:
    """Return ``value`` as a float if it is a number or a numeric string, else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, (int, float)):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None
