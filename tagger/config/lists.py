"""The ``lists:`` section of ``config.yaml``: named shared lists that rules test with ``in_list``.

This module only reads the declarations (name, kind, file, options) and
says where each was written; the list files themselves are read with the
rules (:mod:`tagger.rules.lists_read`), so that ``validate`` reports their
problems with the rules' and a reload (SIGHUP) rereads them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from tagger.yamldoc.problems import Problems

__all__ = ["LIST_KINDS", "ListKind", "ListSpec", "build_lists"]

ListKind = Literal["domains", "addresses", "strings", "regexes"]
LIST_KINDS: tuple[ListKind, ...] = ("domains", "addresses", "strings", "regexes")


@dataclass(frozen=True, slots=True)
class ListSpec:
    """One declared list.

    ``path`` is absolute (resolved against the config's directory);
    ``declared_at`` is ``(file, line, column)`` of its ``path`` value in the
    config, where a missing or unreadable file is reported. ``hash`` says
    whether the entries are part of the content hash of the rules using it.
    """

    name: str
    kind: ListKind
    path: Path
    hash: bool = True
    case_sensitive: bool = False
    description: str = ""
    declared_at: tuple[str, int, int] = ("", 0, 0)


def build_lists(section: Mapping[str, Any], out: Problems, base_dir: Path) -> tuple[ListSpec, ...]:
    """Return the lists declared in the ``lists`` section (the schema has checked its shape).

    Given the section, the config's problem collector and its directory.
    ``case_sensitive`` on a domains or addresses list is an error (they always
    ignore case), reported at the value.
    """
    specs: list[ListSpec] = []
    for name, data in section.items():
        where = ("lists", name)
        kind: ListKind = data["kind"]
        case = bool(data.get("case_sensitive", False))
        if case and kind in ("domains", "addresses"):
            out.add(
                (*where, "case_sensitive"),
                f"case_sensitive has no effect on a {kind} list: {kind} always ignore case",
                "remove it",
                at_value=True,
            )
        line, column = out.doc.value_position((*where, "path"))
        specs.append(
            ListSpec(
                name=str(name),
                kind=kind,
                path=base_dir / str(data["path"]),
                hash=bool(data.get("hash", True)),
                case_sensitive=case,
                description=str(data.get("description", "")),
                declared_at=(out.doc.file, line, column),
            )
        )
    return tuple(specs)
