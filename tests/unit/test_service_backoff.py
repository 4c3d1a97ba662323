"""A crashing cycle backs off: a growing, capped pause, one line per crash, a full disk named.

A full file system used to give a full traceback at every tick (every 2 s
in the tests' schedule). The classification and the back-off are pure or
driven by an injected clock; no real file system is filled.
"""

from __future__ import annotations

import errno
import itertools
import sqlite3
from datetime import UTC, datetime, timedelta

import structlog

from tagger.service.backoff import (
    MAX_BACKOFF,
    CrashBackoff,
    next_delay,
    storage_fault,
)
from tagger.state.errors import StateError

STATE = "/var/lib/tagger/state.db"


def disk_full_state_error() -> StateError:
    """What the state store raises when SQLite cannot write: the sqlite error as its cause."""
    try:
        try:
            raise sqlite3.OperationalError("database or disk is full")
        except sqlite3.OperationalError as exc:
            raise StateError(f"cannot write state file {STATE}: {exc}") from exc
    except StateError as err:
        return err


def test_no_space_is_recognised_in_every_form() -> None:
    enospc = OSError(errno.ENOSPC, "No space left on device", STATE)
    fault = storage_fault(enospc)
    assert fault is not None and fault.reason == "no space left on device"
    assert fault.path == STATE
    assert storage_fault(disk_full_state_error()) is not None
    wrapped = RuntimeError("cycle failed")
    wrapped.__cause__ = OSError(errno.EDQUOT, "Disk quota exceeded")
    assert storage_fault(wrapped) is not None


def test_other_errors_are_not_storage_faults() -> None:
    assert storage_fault(ValueError("bad")) is None
    assert storage_fault(OSError(errno.EACCES, "Permission denied", STATE)) is None
    assert storage_fault(sqlite3.OperationalError("database is locked")) is None


def test_the_pause_doubles_from_the_interval_up_to_the_cap() -> None:
    base = timedelta(seconds=2)
    delays = [next_delay(n, base) for n in range(1, 16)]
    assert delays[:4] == [timedelta(seconds=s) for s in (2, 4, 8, 16)]
    assert all(a <= b for a, b in itertools.pairwise(delays))
    assert delays[-1] == MAX_BACKOFF
    assert next_delay(10_000, base) == MAX_BACKOFF  # no overflow, however long it lasts


class Clock:
    def __init__(self) -> None:
        self.now = datetime(2026, 1, 1, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now


def test_ticks_are_skipped_until_the_pause_is_over_then_reset_by_a_success() -> None:
    clock = Clock()
    backoff = CrashBackoff(timedelta(seconds=2), STATE, clock)
    assert not backoff.skip()
    ran = 0
    # A tick every 2 s for 10 minutes while the disk stays full.
    for _ in range(300):
        if not backoff.skip():
            ran += 1
            backoff.crashed(disk_full_state_error())
        clock.now += timedelta(seconds=2)
    assert ran < 15  # instead of 300 crashes, one line each
    backoff.resume_at = None  # the disk has space again and the next cycle runs
    backoff.succeeded()
    assert backoff.failures == 0 and not backoff.skip()
    assert backoff.crashed(ValueError("x")) == timedelta(seconds=2)


def test_a_full_disk_is_one_located_line_without_a_traceback() -> None:
    clock = Clock()
    backoff = CrashBackoff(timedelta(seconds=2), STATE, clock)
    with structlog.testing.capture_logs() as events:
        backoff.crashed(disk_full_state_error())
        backoff.crashed(OSError(errno.ENOSPC, "No space left on device", "/var/log/audit.jsonl"))
    assert [e["event"] for e in events] == ["cycle_storage_full"] * 2
    assert events[0]["error"] == f"no space left on device: {STATE}"
    assert events[1]["path"] == "/var/log/audit.jsonl"
    assert [e["retry_in_s"] for e in events] == [2, 4]
    assert all(not e.get("exc_info") for e in events)


def test_other_crashes_keep_their_traceback_once() -> None:
    backoff = CrashBackoff(timedelta(seconds=2), STATE, Clock())
    with structlog.testing.capture_logs() as events:
        for _ in range(3):
            try:
                raise KeyError("boom")
            except KeyError as exc:
                backoff.crashed(exc)
    assert [e["event"] for e in events] == ["cycle_crashed"] * 3
    assert [bool(e.get("exc_info")) for e in events] == [True, False, False]
