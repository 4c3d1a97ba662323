"""Helpers of the state tests: child processes that report over a pipe, with deadlines."""

from __future__ import annotations

import contextlib
import os
import selectors
import sqlite3
import subprocess
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=UTC)


def at(minutes: float) -> datetime:
    """Return T0 plus ``minutes``."""
    return T0 + timedelta(minutes=minutes)


def spawn(script: str, *args: str) -> subprocess.Popen[str]:
    """Start ``script`` in a fresh interpreter with stdin/stdout pipes."""
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    return subprocess.Popen(
        [sys.executable, "-c", script, *args],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )


def read_line(proc: subprocess.Popen[str], deadline_s: float = 20.0) -> str:
    """Return the child's next stdout line, failing if none arrives in time."""
    assert proc.stdout is not None
    end = time.monotonic() + deadline_s
    with selectors.DefaultSelector() as sel:
        sel.register(proc.stdout, selectors.EVENT_READ)
        while time.monotonic() < end:
            if sel.select(timeout=max(0.0, end - time.monotonic())):
                line = proc.stdout.readline()
                if not line:
                    err = proc.stderr.read() if proc.stderr else ""
                    raise AssertionError(f"child exited early: {err}")
                return line.rstrip("\n")
    raise AssertionError("child did not report in time")


def file_bytes(path: Path) -> dict[str, bytes]:
    """Return the bytes of the state file and its WAL (absent or empty WAL omitted).

    A read-only SQLite connection may leave an empty WAL behind; that holds no data.
    """
    out = {"db": path.read_bytes()}
    wal = Path(f"{path}-wal")
    if wal.exists() and wal.stat().st_size:
        out["wal"] = wal.read_bytes()
    return out


def damage(path: Path, table: str = "processed") -> None:
    """Overwrite the header of ``table``'s root page in the (checkpointed) file with garbage."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        size = conn.execute("PRAGMA page_size").fetchone()[0]
        (root,) = conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = ?", (table,)
        ).fetchone()
    with path.open("r+b") as raw:
        raw.seek((root - 1) * size)
        raw.write(b"\xa5" * 64)


def damage_schema_text(path: Path, table: str = "applied") -> None:
    """Make one byte of ``table``'s name in the schema text (``sqlite_master``) invalid UTF-8.

    The file is checkpointed first, so the byte lands in the file every
    connection reads. SQLite still opens it; the driver fails to decode the
    name (or an error message quoting it), as one flipped byte on disk would.
    """
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    data = bytearray(path.read_bytes())
    at = data.find(b"table" + table.encode() * 2)
    assert at >= 0, f"no schema row of table {table} in {path}"
    data[at + len("table") + 1] = 0xFF
    path.write_bytes(bytes(data))
