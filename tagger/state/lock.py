"""The single-writer lock: one daemon per state file.

An exclusive, non-blocking ``flock`` on ``<state file>.lock``, held for as long
as the store is open. The kernel drops it when the process dies (even on
SIGKILL), so a crash never leaves a stale lock behind. The holder writes its
pid into the file so the refusal message can name it.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from tagger.state.errors import StateError, StateLocked


def lock_path_for(state_path: Path) -> Path:
    """Return the lock file used for ``state_path``."""
    return Path(f"{state_path}.lock")


def _holder_pid(fd: int) -> str:
    """Return the pid written by the lock holder, or ``"unknown"``."""
    with contextlib.suppress(OSError):
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        if text.isdigit():
            return text
    return "unknown"


class StateLock:
    """An acquired lock; :meth:`release` (or process exit) gives it up."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, state_path: Path) -> StateLock:
        """Take the lock for ``state_path`` without waiting.

        Raises StateLocked naming the holder's pid when another process (or
        another open store in this process) has it, and StateError when the
        lock file cannot be created.
        """
        path = lock_path_for(state_path)
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        except OSError as exc:
            raise StateError(f"cannot create lock file {path}: {exc.strerror}") from exc
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _holder_pid(fd)
            os.close(fd)
            raise StateLocked(
                f"another tagger process (pid {pid}) is already using state file {state_path}; "
                "stop it first (e.g. `systemctl stop tagger`), or give this command its own "
                "state file. Read-only commands such as `tagger status` work alongside it"
            ) from None
        except OSError as exc:
            os.close(fd)
            raise StateError(f"cannot lock {path}: {exc.strerror}") from exc
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        except OSError:
            # The pid is only for the message; the lock itself is what counts.
            pass
        return cls(path, fd)

    def release(self) -> None:
        """Give up the lock (idempotent)."""
        if self._fd is not None:
            fd, self._fd = self._fd, None
            with contextlib.suppress(OSError):
                fcntl.flock(fd, fcntl.LOCK_UN)
            os.close(fd)
