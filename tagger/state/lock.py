"""The single-writer lock: one writer per state file, however it is named.

Two exclusive, non-blocking ``flock`` locks, held for as long as the store is
open, both on the *resolved* path (``os.path.realpath``), so a symlink or a
relative name to the same file finds the same lock:

- on ``<state file>.lock``, where the holder writes its pid so the refusal
  message can name it;
- on the state file itself. Deleting the ``.lock`` file therefore cannot let
  a second writer in: the state file stays locked by the first. (SQLite's own
  locks are POSIX record locks, which ``flock`` locks do not interact with on
  a local file system.)

The kernel drops both when the process dies (even on SIGKILL), so a crash
never leaves a stale lock behind. The descriptor on the state file is also how
:meth:`StateLock.check_file` notices that the file was deleted or replaced
under a running writer.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path

from tagger.state.errors import StateError, StateGone, StateLocked


def real_path(state_path: Path) -> Path:
    """Return ``state_path`` with every symlink resolved (the file need not exist)."""
    return Path(os.path.realpath(state_path))


def lock_path_for(state_path: Path) -> Path:
    """Return the lock file used for ``state_path`` (beside its resolved path)."""
    return Path(f"{real_path(state_path)}.lock")


def _holder_pid(fd: int) -> str:
    """Return the pid written by the lock holder, or ``"unknown"``."""
    with contextlib.suppress(OSError):
        text = os.pread(fd, 32, 0).decode("ascii", "replace").strip()
        if text.isdigit():
            return text
    return "unknown"


def _open(path: Path, what: str) -> int:
    """Open (creating, mode 0600) ``path``; StateError naming it on failure."""
    try:
        return os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
    except OSError as exc:
        raise StateError(f"cannot create {what} {path}: {exc.strerror}") from exc


def _refused(state_path: Path, pid: str) -> StateLocked:
    return StateLocked(
        f"another tagger process (pid {pid}) is already using state file {state_path}; "
        "stop it first (e.g. `systemctl stop tagger`), or give this command its own "
        "state file. Read-only commands such as `tagger status` work alongside it"
    )


def _flock(fd: int, path: Path) -> bool:
    """Take an exclusive lock on ``fd`` without waiting; False when another has it."""
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return False
    except OSError as exc:
        raise StateError(f"cannot lock {path}: {exc.strerror}") from exc
    return True


class StateLock:
    """An acquired lock; :meth:`release` (or process exit) gives it up."""

    def __init__(self, path: Path, fd: int, state_path: Path, state_fd: int) -> None:
        self.path = path
        self.state_path = state_path
        self._fd: int | None = fd
        self._state_fd: int | None = state_fd

    @classmethod
    def acquire(cls, state_path: Path) -> StateLock:
        """Take the lock for ``state_path`` without waiting (creating the file, mode 0600).

        Raises StateLocked naming the holder's pid when another process (or
        another open store in this process) has it, and StateError when the
        lock file or the state file cannot be created or locked.
        """
        real = real_path(state_path)
        path = lock_path_for(real)
        fd = _open(path, "lock file")
        try:
            if not _flock(fd, path):
                raise _refused(state_path, _holder_pid(fd))
            state_fd = _open(real, "state file")
            try:
                if not _flock(state_fd, real):
                    # The .lock file was deleted under a running writer: its pid is gone too.
                    raise _refused(state_path, "unknown")
            except BaseException:
                os.close(state_fd)
                raise
        except BaseException:
            os.close(fd)
            raise
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        except OSError:
            # The pid is only for the message; the lock itself is what counts.
            pass
        return cls(path, fd, real, state_fd)

    def check_file(self) -> None:
        """Raise StateGone when the state file was deleted or replaced since it was locked.

        Compares the device and inode of the path with those of the open file:
        a writer that carried on would write to a file nobody reads again.
        """
        if self._state_fd is None:
            return
        held = os.fstat(self._state_fd)
        try:
            now = os.stat(self.state_path)
        except FileNotFoundError:
            raise StateGone(
                f"state file {self.state_path} was deleted while tagger was using it; "
                "stopping so nothing is written to a file nobody reads. Restore it from a "
                "backup, or start again: the next run checks the tags already on each "
                "message before applying any"
            ) from None
        except OSError as exc:
            raise StateGone(f"cannot check state file {self.state_path}: {exc.strerror}") from exc
        if (now.st_dev, now.st_ino) != (held.st_dev, held.st_ino):
            raise StateGone(
                f"state file {self.state_path} was replaced by another file while tagger was "
                "using it; stopping. Find out what replaced it, then start again"
            )

    def release(self) -> None:
        """Give up the lock (idempotent)."""
        for name in ("_state_fd", "_fd"):
            fd = getattr(self, name)
            if fd is not None:
                setattr(self, name, None)
                with contextlib.suppress(OSError):
                    fcntl.flock(fd, fcntl.LOCK_UN)
                os.close(fd)
