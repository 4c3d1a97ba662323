"""Helpers shared by the property tests that mutate documents."""

from __future__ import annotations

from typing import Any


def set_path(data: Any, path: list[int], value: Any) -> Any:
    """Replace the node reached by following ``path`` (indices modulo size) with ``value``."""
    if not path or not isinstance(data, dict | list) or not data:
        return value
    keys = list(data) if isinstance(data, dict) else list(range(len(data)))
    key = keys[path[0] % len(keys)]
    data[key] = set_path(data[key], path[1:], value)
    return data
