"""Is the state file sound, and is it the one tagger has been using?

- **Page-level damage**: :func:`quick_check` runs SQLite's ``PRAGMA
  quick_check`` and refuses a damaged file with a message naming it and the
  recovery command (``tagger recover-state``), which moves it aside.
- **A lost state**: the marker ``<state file>.ran`` is written beside the
  file the first time it opens. A state file missing while its marker exists
  was deleted (or moved aside by the recovery command): the tags applied
  before are remembered nowhere but on the messages themselves.
  :func:`note_lost` then records the moment in the state, and every account
  reads message info before each apply (so tags already present are skipped)
  until one of its runs completes after that moment.
"""

from __future__ import annotations

import contextlib
import os
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import structlog

from tagger.state.errors import StateDamaged, StateError
from tagger.state.lock import real_path

log = structlog.get_logger("tagger.state")

RECOVER_COMMAND = "tagger recover-state"
# Where the moment a lost state was found is kept: a backfill_progress row of no
# account (the schema has no better place, and prune never deletes these rows).
LOST_ACCOUNT = ""
LOST_KEY = "state-lost"


def marker_path(state_path: Path) -> Path:
    """Return the marker that says tagger has used ``state_path`` before."""
    return Path(f"{real_path(state_path)}.ran")


def state_missing(state_path: Path) -> bool:
    """Return True when ``state_path`` does not exist or is empty (never written)."""
    try:
        return os.stat(state_path).st_size == 0
    except FileNotFoundError:
        return True


def was_lost(state_path: Path, missing: bool) -> bool:
    """Return True when the state was ``missing`` although its marker says tagger ran there."""
    return missing and marker_path(state_path).exists()


def write_marker(state_path: Path) -> None:
    """Create the marker beside ``state_path`` (mode 0600) if it is not there yet.

    Raises StateError when it cannot be written: without it, a later loss of
    the state would go unnoticed.
    """
    marker = marker_path(state_path)
    if marker.exists():
        return
    try:
        fd = os.open(marker, os.O_WRONLY | os.O_CREAT | os.O_CLOEXEC, 0o600)
        with contextlib.closing(os.fdopen(fd, "w", encoding="ascii")) as out:
            out.write(f"tagger state {real_path(state_path)} first opened {_now()}\n")
            out.flush()
            os.fsync(out.fileno())
    except OSError as exc:
        raise StateError(f"cannot write marker {marker}: {exc.strerror}") from exc


def damaged_message(state_path: Path, detail: str) -> str:
    """Return the operator's message for a damaged state file."""
    return (
        f"state file {state_path} is damaged ({detail}); stop tagger and run "
        f"`{RECOVER_COMMAND}` (with the same -c CONFIG): it moves the file aside (nothing "
        "is deleted) and the next run checks the tags already on each message before "
        "applying any, so nothing is applied twice"
    )


def quick_check(conn: sqlite3.Connection, state_path: Path) -> None:
    """Raise StateDamaged when ``PRAGMA quick_check`` finds the file damaged.

    Given an open connection and the file's path (for the message).
    """
    try:
        rows = conn.execute("PRAGMA quick_check").fetchall()
    except sqlite3.DatabaseError as exc:
        raise StateDamaged(damaged_message(state_path, str(exc))) from exc
    except UnicodeError as exc:
        detail = "it holds text that is not valid UTF-8"
        raise StateDamaged(damaged_message(state_path, detail)) from exc
    report = [str(r[0]) for r in rows]
    if report != ["ok"]:
        detail = "; ".join(report[:3]) + (f"; … {len(report) - 3} more" if len(report) > 3 else "")
        raise StateDamaged(damaged_message(state_path, detail))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")
