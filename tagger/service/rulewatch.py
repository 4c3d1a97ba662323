"""Whether the config and rule files on disk would load now (what the next reload meets).

``tagger status --check`` warns when the rule files do not load; the daemon
tells Prometheus the same. Checking costs a config load and a rule compile,
so it runs only when a file changed: the config file, a rule file, or a
folder holding one (a file added or removed) has a new size or time.
"""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path

from tagger.config import Config, load_config
from tagger.errors import UserError
from tagger.rules.accountsets import check_account_rule_sets

Signature = tuple[tuple[str, int, int], ...]


def signature(config_path: Path, rule_paths: Iterable[Path]) -> Signature:
    """Return the size and modification time of the config, the rule files and their folders.

    A file that cannot be read is recorded as (-1, -1), so that it
    appearing or going away changes the signature too.
    """
    paths = [config_path, *rule_paths]
    paths += sorted({p.parent for p in paths[1:]})
    out = []
    for path in paths:
        try:
            info = os.stat(path)
        except OSError:
            out.append((str(path), -1, -1))
        else:
            out.append((str(path), info.st_size, info.st_mtime_ns))
    return tuple(out)


def first_problem(config_path: Path) -> str | None:
    """Return the first error that loading the config and its rules meets now (None: none).

    Blocking (reads and compiles every rule file): run it in a thread.
    """
    try:
        config = load_config(config_path)
    except UserError as exc:
        return str(exc.errors[0]) if exc.errors else str(exc)
    sets, problems = check_account_rule_sets(config)
    if sets is not None:
        return None
    errors = [p for p in problems if p.severity == "error"]
    return str(errors[0]) if errors else "the rule files do not load"


class RuleFilesWatch:
    """Remembers the files' signature when last checked and the outcome of that check."""

    def __init__(self, config_path: Path, config: Config) -> None:
        self.config_path = config_path
        self.problem: str | None = None
        self._seen = signature(config_path, config.every_rule_path)

    def loaded(self, config: Config) -> None:
        """Note that ``config`` and its rules were just loaded whole (start-up, a reload)."""
        self._seen = signature(self.config_path, config.every_rule_path)
        self.problem = None

    def changed(self, config: Config) -> bool:
        """Return whether a file changed since the last check (and remember it did)."""
        now = signature(self.config_path, config.every_rule_path)
        if now == self._seen:
            return False
        self._seen = now
        return True
