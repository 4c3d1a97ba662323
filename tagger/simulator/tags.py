"""The Smart Tag tree of the simulated account."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class SmartTagDef:
    """One Smart Tag: opaque ``id``, display ``name``, slash-separated ``path``."""

    id: str
    name: str
    path: str
    description: str
    parent_id: str | None

    def to_json(self) -> dict[str, Any]:
        """Return the list-call item ``{id, name, description, parentId, path}``."""
        return {
            "id": self.id,
            "name": self.name,
            "description": self.description,
            "parentId": self.parent_id,
            "path": self.path,
        }

    def applied_json(self) -> dict[str, Any]:
        """Return the ``retentionInfo.smartTags[]`` item ``{id, name, path}``."""
        return {"id": self.id, "name": self.name, "path": self.path}


def tag_id(path: str) -> str:
    """Return the stable opaque ID of the tag at ``path``."""
    return "st-" + hashlib.sha1(path.encode(), usedforsecurity=False).hexdigest()[:20]


def build_tree(paths: Iterable[str]) -> tuple[SmartTagDef, ...]:
    """Return every tag named by ``paths`` and their parents, parents first.

    Raises ``ValueError`` for an empty path segment.
    """
    out: dict[str, SmartTagDef] = {}
    for path in paths:
        parts = path.split("/")
        if any(not p.strip() for p in parts):
            raise ValueError(f"bad Smart Tag path {path!r}: empty segment")
        for depth in range(1, len(parts) + 1):
            sub = "/".join(parts[:depth])
            if sub in out:
                continue
            parent = "/".join(parts[: depth - 1]) or None
            out[sub] = SmartTagDef(
                id=tag_id(sub),
                name=parts[depth - 1],
                path=sub,
                description=f"Messages filed under {sub}",
                parent_id=tag_id(parent) if parent else None,
            )
    return tuple(out.values())
