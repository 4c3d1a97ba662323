"""The Dockerfile and its .dockerignore read as Docker reads them, for the deploy tests.

The Dockerfile goes through Docker's own parser (the ``dockerfile`` package
wraps BuildKit's); ``.dockerignore`` through :class:`DockerIgnore`, which
follows the builder's matching rules.
"""

from __future__ import annotations

import re
from pathlib import Path

import dockerfile

ROOT = Path(__file__).resolve().parents[2]


def instructions(name: str) -> list[dockerfile.Command]:
    """Return every ``name`` instruction of the Dockerfile (upper case), in order."""
    return [c for c in dockerfile.parse_file(str(ROOT / "Dockerfile")) if c.cmd == name]


def healthcheck_command() -> str:
    """Return the shell command of the Dockerfile's HEALTHCHECK (``CMD`` in shell form)."""
    (check,) = instructions("HEALTHCHECK")
    kind, command = check.value
    assert kind == "CMD", f"HEALTHCHECK without CMD: {check.original}"
    return command


class DockerIgnore:
    """A ``.dockerignore`` read as the builder does: last matching pattern wins, ``!`` keeps.

    A pattern matches a path or any folder above it; ``*`` and ``?`` stay
    within one path element, ``**`` spans any number of them.
    """

    def __init__(self, rules: list[tuple[re.Pattern[str], bool]]) -> None:
        self.rules = rules

    @classmethod
    def read(cls, path: Path) -> DockerIgnore:
        """Return the rules of the ``.dockerignore`` at ``path``."""
        rules = []
        for raw in path.read_text(encoding="utf-8").splitlines():
            line = raw.strip()
            if not line or line.startswith("#"):
                continue
            keep = line.startswith("!")
            pattern = line.lstrip("!").strip("/")
            rules.append((re.compile(cls._regex(pattern)), keep))
        return cls(rules)

    @staticmethod
    def _regex(pattern: str) -> str:
        out, i = "", 0
        while i < len(pattern):
            if pattern.startswith("**/", i):
                out, i = out + "(?:.*/)?", i + 3
            elif pattern.startswith("**", i):
                out, i = out + ".*", i + 2
            elif pattern[i] == "*":
                out, i = out + "[^/]*", i + 1
            elif pattern[i] == "?":
                out, i = out + "[^/]", i + 1
            else:
                out, i = out + re.escape(pattern[i]), i + 1
        return out

    def excluded(self, path: str) -> bool:
        """Return whether ``path`` (relative, ``/``-separated) stays out of the build context."""
        parts = path.split("/")
        prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
        verdict = False
        for regex, keep in self.rules:
            if any(regex.fullmatch(p) for p in prefixes):
                verdict = not keep
        return verdict
