"""Durability: a writer killed with SIGKILL at a random moment loses nothing it committed."""

from __future__ import annotations

import random
import signal
import sqlite3
import time
from datetime import timedelta
from pathlib import Path

import pytest

from tagger.state import StateStore
from tests.support.state import T0, read_line, spawn

WRITER = """
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from tagger.state import AppliedRow, StateStore
store = StateStore.open(Path(sys.argv[1]))
t0 = datetime.fromisoformat(sys.argv[2])
for i in range(100_000):
    store.record_applied_many(
        "a", [AppliedRow(f"m{i}", f"t{j}", "r", "h", "live", t0) for j in range(5)]
    )
    store.mark_processed("a", "rs", [f"m{i}"], t0)
    store.set_watermark("a", "q", t0 + timedelta(seconds=i), t0)
    store.record_failure("a", "flaky", f"attempt {i}", t0)
    print(i, flush=True)  # only after all four transactions committed
"""


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sigkill_mid_write_keeps_every_committed_record(tmp_path: Path, seed: int) -> None:
    rng = random.Random(seed)
    path = tmp_path / "state.db"
    child = spawn(WRITER, str(path), T0.isoformat())
    target = rng.randint(5, 120)
    last = -1
    try:
        while last < target:
            last = int(read_line(child))
        # Land the kill at a random point inside the following transactions.
        deadline = time.monotonic() + rng.uniform(0, 0.004)
        while time.monotonic() < deadline:
            pass
        child.send_signal(signal.SIGKILL)
    finally:
        child.kill()
        out, _err = child.communicate(timeout=20)
    assert child.returncode == -signal.SIGKILL
    # Lines printed before the kill but not read yet are committed records too.
    reported = [int(x) for x in out.split()]
    if reported:
        last = max(last, *reported)

    with StateStore.open(path) as store:  # lock freed by the kernel; WAL recovered
        assert store.integrity_check() == "ok"
        ids = [f"m{i}" for i in range(last + 2)]
        pairs = store.applied_pairs("a", ids)
        for i in range(last + 1):
            assert {(f"m{i}", f"t{j}") for j in range(5)} <= pairs, f"record {i} lost"
        # The batch in flight is all or nothing.
        in_flight = {p for p in pairs if p[0] == f"m{last + 1}"}
        assert len(in_flight) in (0, 5)
        assert set(ids[: last + 1]) <= store.processed_ids("a", "rs", ids)
        mark = store.get_watermark("a", "q")
        assert mark is not None and mark >= T0 + timedelta(seconds=last)
        assert store.failure_count("a", "flaky") >= last + 1
    conn = sqlite3.connect(path)
    (count,) = conn.execute("SELECT COUNT(*) FROM applied").fetchone()
    conn.close()
    assert count % 5 == 0
