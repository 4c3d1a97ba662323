"""One daemon per state file: a second process is refused with the holder's pid."""

from __future__ import annotations

import signal
from pathlib import Path

import pytest

from tagger.state import StateError, StateLocked, StateStore
from tests.support.state import at, read_line, spawn

HOLDER = """
import os, sys
from pathlib import Path
from tagger.state import StateStore
store = StateStore.open(Path(sys.argv[1]))
print("locked", os.getpid(), flush=True)
sys.stdin.read()  # hold the lock until the parent closes our stdin
store.close()
print("released", flush=True)
"""


def test_second_process_is_refused_with_the_holder_pid(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    holder = spawn(HOLDER, str(path))
    try:
        word, pid = read_line(holder).split()
        assert word == "locked" and int(pid) == holder.pid
        with pytest.raises(StateLocked) as info:
            StateStore.open(path)
        message = str(info.value)
        assert f"pid {holder.pid}" in message and str(path) in message
        assert "stop it first" in message
        assert isinstance(info.value, StateError)
    finally:
        assert holder.stdin is not None
        holder.stdin.close()
        assert read_line(holder) == "released"
        holder.wait(timeout=20)
    StateStore.open(path).close()  # free again


def test_readonly_open_works_while_locked(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with StateStore.open(path) as s:
        s.set_watermark("a", "q", at(1), at(1))
    holder = spawn(HOLDER, str(path))
    try:
        read_line(holder)
        ro = StateStore.open(path, readonly=True)
        assert ro.get_watermark("a", "q") == at(1)
        assert ro.integrity_check() == "ok"
        ro.close()
        # An unlocked writer handle opens too, and so does a dry run's copy.
        StateStore.open(path, lock=False).close()
        with StateStore.open_copy(path) as copy:
            assert copy.get_watermark("a", "q") == at(1)
    finally:
        holder.kill()
        holder.wait(timeout=20)


def test_lock_is_freed_when_the_holder_is_killed(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    holder = spawn(HOLDER, str(path))
    read_line(holder)
    with pytest.raises(StateLocked):
        StateStore.open(path)
    holder.send_signal(signal.SIGKILL)
    holder.wait(timeout=20)
    StateStore.open(path).close()
