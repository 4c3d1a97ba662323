"""Helpers for the configuration tests: write a config file next to a rule file."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from tagger.config import Config, load_config
from tagger.errors import Problem, UserError

MINIMAL = """\
accounts:
  - name: main
    region: uk
    credentials:
      client_id: my-client
      client_secret: {env: TEST_SECRET}
rules:
  - rules/*.yaml
"""
ENV = {"TEST_SECRET": "s3cr3t-from-env-value"}


def write_config(directory: Path, text: str, *, mode: int = 0o600) -> Path:
    """Write ``text`` (dedented) as ``config.yaml`` in ``directory`` with one rule file."""
    (directory / "rules").mkdir(exist_ok=True)
    (directory / "rules" / "one.yaml").write_text("rules: []\n", encoding="utf-8")
    path = directory / "config.yaml"
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    path.chmod(mode)
    return path


def load(directory: Path, text: str, env: dict[str, str] | None = None) -> Config:
    """Write and load a config that must be valid."""
    return load_config(write_config(directory, text), env=ENV if env is None else env)


def problems(directory: Path, text: str, env: dict[str, str] | None = None) -> list[Problem]:
    """Write and load a config that must be invalid; return its problems."""
    with pytest.raises(UserError) as info:
        load(directory, text, env)
    return info.value.problems


def one_problem(directory: Path, text: str, env: dict[str, str] | None = None) -> Problem:
    """Like :func:`problems`, for a config with exactly one problem."""
    found = problems(directory, text, env)
    assert len(found) == 1, [str(p) for p in found]
    return found[0]
