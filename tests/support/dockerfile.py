"""The Dockerfile and its .dockerignore read as files, for the deploy tests (no Docker)."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[2]


def dockerfile() -> list[tuple[str, str]]:
    """Return the Dockerfile's (INSTRUCTION, arguments) in order, continuations joined."""
    out: list[tuple[str, str]] = []
    pending = ""
    for raw in (ROOT / "Dockerfile").read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        line = pending + line
        pending = ""
        word, _, rest = line.partition(" ")
        out.append((word.upper(), rest.strip()))
    assert not pending, "the Dockerfile ends inside a continued line"
    return out


def instructions(name: str) -> list[str]:
    """Return the arguments of every ``name`` instruction, in order."""
    return [args for word, args in dockerfile() if word == name]


def exec_form(args: str) -> list[str]:
    """Return a JSON-array instruction's words (``["a", "b"]``)."""
    words = yaml.safe_load(args)
    assert isinstance(words, list), f"not the exec (JSON array) form: {args}"
    return [str(w) for w in words]


def healthcheck_command() -> str:
    """Return the shell command of the Dockerfile's HEALTHCHECK."""
    (check,) = instructions("HEALTHCHECK")
    _, sep, command = check.partition(" CMD ")
    assert sep, f"HEALTHCHECK without CMD: {check}"
    return command.strip()


class DockerIgnore:
    """A ``.dockerignore`` read as the builder does: last matching pattern wins, ``!`` keeps.

    A pattern matches a path or any folder above it; ``*`` and ``?`` stay
    within one path element, ``**`` spans any number of them.
    """

    def __init__(self, rules: list[tuple[re.Pattern[str], bool]]) -> None:
        self.rules = rules

    @classmethod
    def read(cls, path: Path) -> DockerIgnore:
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
        parts = path.split("/")
        prefixes = ["/".join(parts[: n + 1]) for n in range(len(parts))]
        verdict = False
        for regex, keep in self.rules:
            if any(regex.fullmatch(p) for p in prefixes):
                verdict = not keep
        return verdict
