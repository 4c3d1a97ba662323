"""Expand the rule paths a config names (top-level ``rules`` and ``accounts[].rules``)."""

from __future__ import annotations

import glob
import os
from pathlib import Path

from tagger.yamldoc.problems import Problems

__all__ = ["expand_rule_paths"]


def expand_rule_paths(
    given: str | list[str], where: tuple[str | int, ...], out: Problems, base_dir: Path
) -> tuple[Path, ...]:
    """Expand rule paths, directories and globs (each sorted); each must match a file.

    Given the value of a ``rules`` key, its place in the file (``("rules",)``
    or ``("accounts", 0, "rules")``), the problems to report into and the
    config's directory; returns the files found, each once, in order. A path
    that matches nothing is reported at its value.
    """
    found: dict[Path, None] = {}
    located = (
        [(where, given)]
        if isinstance(given, str)
        else [((*where, index), pattern) for index, pattern in enumerate(given)]
    )
    for place, pattern in located:
        target = base_dir / pattern
        try:
            if glob.has_magic(pattern):
                matches = [Path(p) for p in glob.glob(str(target), recursive=True)]
                matches = [p for p in matches if p.is_file()]
            elif target.is_dir():
                matches = [p for p in target.iterdir() if p.suffix in {".yaml", ".yml"}]
            else:
                matches = [target] if target.is_file() else []
        except (OSError, ValueError):
            matches = []
        if not matches:
            what = "matches no files" if glob.has_magic(pattern) else "is not a rule file"
            out.add(place, f"'{pattern}' {what} (looked in {target})", at_value=True)
        for unreadable in (p for p in matches if not os.access(p, os.R_OK)):
            out.add(
                place,
                f"rule file {unreadable} is not readable",
                hint="give the user tagger runs as read access (e.g. chmod 644)",
                at_value=True,
            )
        found.update(dict.fromkeys(sorted(matches)))
    return tuple(found)
