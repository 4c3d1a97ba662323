"""The kill switch's own file beside the state: ``tagger pause --all`` works whatever the state.

The switch is the file ``<state file>.pause-all`` (beside the resolved state
path, like the lock and the marker), and also the ``pause_all`` row of the
state's ``switches`` table. Either one on stops every apply
(:meth:`~tagger.state.railstore.RailRecords.kill_switch`). The file needs
only the state's folder to be writable: it can be set while the state file is
damaged, locked by a busy writer or missing, which is when an operator may
need it most. It is written atomically (a temporary file, fsynced, renamed,
the folder fsynced), so it is either there, complete, or absent.
"""

from __future__ import annotations

import contextlib
import os
from datetime import datetime
from pathlib import Path

from tagger.state.atomic import fsync_dir, write_atomically
from tagger.state.errors import StateError
from tagger.state.lock import real_path

SUFFIX = ".pause-all"


def pause_file(state_path: Path) -> Path:
    """Return the kill switch's file for ``state_path`` (beside its resolved path)."""
    return Path(f"{real_path(state_path)}{SUFFIX}")


def pause_file_on(state_path: Path) -> bool:
    """Return whether the kill switch's file exists for ``state_path``.

    A file that cannot be looked at (a folder without search permission)
    counts as on: whether applies are stopped must never be guessed towards
    applying.
    """
    try:
        os.stat(pause_file(state_path))
    except FileNotFoundError:
        return False
    except OSError:
        return True
    return True


def set_pause_file(state_path: Path, on: bool, at: datetime) -> Path:
    """Create (``on``) or remove the kill switch's file of ``state_path``; return its path.

    Given the state path, the new position and the time written into the
    file. Raises StateError naming the file and the fix when it cannot be
    written or removed.
    """
    path = pause_file(state_path)
    try:
        if on:
            note = f"every apply paused by `tagger pause --all` at {at:%Y-%m-%dT%H:%M:%SZ}\n"
            write_atomically(path, note)
        else:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(path)
            fsync_dir(path.parent)
    except OSError as exc:
        raise StateError(
            f"cannot {'write' if on else 'remove'} the kill switch's file {path}: "
            f"{exc.strerror or exc}; make {path.parent} writable by the tagger user"
        ) from exc
    return path
