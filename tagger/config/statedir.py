"""Paths inside the service's state directory: ``{state_directory: NAME}``.

Under systemd, ``StateDirectory=tagger`` creates ``/var/lib/tagger`` (owned
by the service's user, a dynamic one included) and passes it as
``$STATE_DIRECTORY``; by hand, the same ``/var/lib/tagger`` is meant. A
config that writes its state and audit files there therefore works for the
daemon and for ``tagger status``/``promote``/``report`` run from a shell.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["DEFAULT_STATE_DIRECTORY", "resolve_path", "state_directory"]

DEFAULT_STATE_DIRECTORY = Path("/var/lib/tagger")


def state_directory(env: Mapping[str, str]) -> Path:
    """Return ``$STATE_DIRECTORY`` (its first entry when systemd lists several), else the default.

    Given the environment; pure.
    """
    given = env.get("STATE_DIRECTORY", "").split(":", 1)[0]
    return Path(given) if given else DEFAULT_STATE_DIRECTORY


def resolve_path(value: Any, *, base_dir: Path, env: Mapping[str, str]) -> Path:
    """Return the path a schema-valid path value names.

    Given a string (relative to ``base_dir``, the config file's directory) or
    ``{state_directory: NAME}`` (``NAME`` inside :func:`state_directory`) and
    the environment; pure.
    """
    if isinstance(value, Mapping):
        return state_directory(env) / str(value["state_directory"])
    return base_dir / str(value)
