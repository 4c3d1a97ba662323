"""Is the state file's single-writer lock held? Asked without taking it.

Taking the lock to test it, even for a moment, could make a daemon starting at
that instant refuse to run; so on Linux the kernel's table of locks
(``/proc/locks``) is read instead, matching the lock file's device and inode.
"""

from __future__ import annotations

import os
from pathlib import Path

from tagger.state.lock import lock_path_for

PROC_LOCKS = Path("/proc/locks")


def lock_held(state_path: Path, table: Path = PROC_LOCKS) -> bool | None:
    """Return True when a process holds the lock of ``state_path``, False when none does.

    None when it cannot be told (no ``/proc/locks``). A missing lock file
    means no daemon ever ran there: False.
    """
    try:
        st = os.stat(lock_path_for(state_path))
    except FileNotFoundError:
        return False
    except OSError:
        return None
    try:
        text = table.read_text(encoding="ascii", errors="replace")
    except OSError:
        return None
    want = (os.major(st.st_dev), os.minor(st.st_dev), st.st_ino)
    for line in text.splitlines():
        parts = line.split()
        if "FLOCK" not in parts:
            continue
        for part in parts:
            fields = part.split(":")
            if len(fields) != 3:
                continue
            try:
                found = (int(fields[0], 16), int(fields[1], 16), int(fields[2]))
            except ValueError:
                continue
            if found == want:
                return True
    return False
