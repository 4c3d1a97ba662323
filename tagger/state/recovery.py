"""Moving a damaged state file aside, so the next run starts afresh and verifies.

Nothing is ever deleted: the file and its ``-wal``/``-shm`` companions are
renamed with a timestamp, and the marker beside them (see
:mod:`tagger.state.integrity`) makes the next run read the tags already on
each message before applying any, so nothing is applied twice.
"""

from __future__ import annotations

import os
from datetime import datetime
from pathlib import Path

from tagger.state.errors import StateError
from tagger.state.integrity import state_missing, write_marker
from tagger.state.lock import StateLock, real_path

COMPANIONS = ("", "-wal", "-shm")


def aside_name(state_path: Path, at: datetime) -> Path:
    """Return the name a damaged ``state_path`` is moved to at ``at`` (pure)."""
    return Path(f"{state_path}.damaged-{at:%Y%m%dT%H%M%SZ}")


def move_aside(state_path: Path, at: datetime) -> list[Path]:
    """Move the state file at ``state_path`` and its companions aside; return the new names.

    Given the state path and the (UTC) time for the name. Holds the
    single-writer lock while it works: raises StateLocked when a daemon uses
    the file, and StateError when a file cannot be renamed or the marker
    written. Returns an empty list when there was no state file.
    """
    real = real_path(state_path)
    missing = state_missing(real)
    lock = StateLock.acquire(real)
    try:
        write_marker(real)
        if missing:
            return []
        target = aside_name(real, at)
        if any(Path(f"{target}{s}").exists() for s in COMPANIONS):
            raise StateError(f"{target} already exists; try again in a second")
        moved = []
        for suffix in COMPANIONS:
            source = Path(f"{real}{suffix}")
            if not source.exists():
                continue
            try:
                os.rename(source, f"{target}{suffix}")
            except OSError as exc:
                raise StateError(f"cannot move {source} aside: {exc.strerror}") from exc
            moved.append(Path(f"{target}{suffix}"))
        return moved
    finally:
        lock.release()
