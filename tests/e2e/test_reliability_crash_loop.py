"""Progress under a crash loop: a daemon killed mid-cycle, again and again, still advances.

A real `tagger run` against the simulator (with latency, so one cycle over 500
messages takes several seconds) is SIGKILLed as soon as the state shows that
its cycle committed a checkpoint, three times in a row, before any cycle could
end. Each killed run keeps its applies (recorded in the state) and counts them
(its row in the run history: up to its last checkpoint, and all of them once
the next run has started), and the watermark moves forward from one kill to
the next although no cycle completed. A clean `tagger once` then finishes:
nothing missing, nothing extra, nothing applied twice. The figures of a
seeded kill-every-0.4-3 s loop are printed by `python -m bench.crash --loop`.
"""

from __future__ import annotations

import contextlib
import functools
import itertools
import json
import signal
import sqlite3
from pathlib import Path
from typing import Any

import pytest

from tagger.rules import load_rules
from tagger.simulator import Simulator, SimulatorConfig
from testkit.setup import SUMMARY_ONLY_RULE
from tests.support.daemon import (
    RULES_DIR,
    Running,
    applied_pairs,
    expected_pairs,
    repeated_applies,
    run_tagger,
    wait_until,
    write_config,
)


def _read(state: Path, sql: str) -> list[tuple[Any, ...]]:
    with contextlib.closing(sqlite3.connect(f"file:{state}?mode=ro", uri=True, timeout=10)) as c:
        return c.execute(sql).fetchall()


def _runs(state: Path) -> list[tuple[int, str, dict[str, int]]]:
    """Return the live runs (id, status, counts); none while the file is still being made."""
    try:
        rows = _read(state, "SELECT id, status, counts FROM runs WHERE dry_run = 0 ORDER BY id")
    except sqlite3.OperationalError:  # no file, or no schema yet
        return []
    return [(int(i), str(s), json.loads(c)) for i, s, c in rows]


def _marks(state: Path) -> dict[str, int]:
    return {str(k): int(v) for k, v in _read(state, "SELECT query_key, value FROM watermarks")}


def _checkpointed(daemon: Running, state: Path, known: set[int]) -> bool:
    """Return whether a run started by ``daemon`` has committed counts with an apply."""
    if daemon.proc.poll() is not None:
        raise AssertionError(daemon.stderr[-3000:])
    fresh = [r for r in _runs(state) if r[0] not in known]
    return any(c.get("applied", 0) > 0 for _i, _s, c in fresh)


@pytest.mark.slow
@pytest.mark.timeout(240)
def test_a_daemon_killed_mid_cycle_keeps_counts_and_advances(tmp_path: Path) -> None:
    probe = tmp_path / "summary-only.yaml"
    probe.write_text(SUMMARY_ONLY_RULE, encoding="utf-8")
    config = SimulatorConfig(seed=29, messages=500, latency_ms=40, latency_jitter_ms=20)
    with Simulator(config) as sim:
        schedule = {"interval": "1s", "jitter": "0s", "misfire_grace": "1m", "max_cycle": "1m"}
        cfg = str(
            write_config(tmp_path, sim, rules=[RULES_DIR / "*.yaml", probe], schedule=schedule)
        )
        state = tmp_path / "state.db"
        marks: list[dict[str, int]] = []
        for kill in range(3):
            known = {run_id for run_id, _s, _c in _runs(state)}
            daemon = Running("run", "-c", cfg)
            try:
                wait_until(
                    functools.partial(_checkpointed, daemon, state, known),
                    120,
                    f"a checkpoint of run {kill + 1}",
                )
                daemon.signal(signal.SIGKILL)
                daemon.wait(timeout=30)
            finally:
                if daemon.proc.poll() is None:
                    daemon.proc.kill()
                    daemon.wait(timeout=30)
            fresh = [r for r in _runs(state) if r[0] not in known]
            # Killed mid-cycle: its run stays cut off, with what it did counted.
            assert fresh and all(s == "running" for _i, s, _c in fresh), fresh
            assert sum(c.get("applied", 0) for _i, _s, c in fresh) > 0
            marks.append(_marks(state))
        # No cycle ended, yet the watermarks moved forward from kill to kill.
        assert not any(s in ("ok", "partial") for _i, s, _c in _runs(state))
        assert marks[0], "the first killed cycle committed no watermark"
        for before, after in itertools.pairwise(marks):
            assert after.keys() >= before.keys()
            assert all(after[k] >= v for k, v in before.items())
            assert sum(after.values()) > sum(before.values())
        counted = sum(c.get("applied", 0) for _i, _s, c in _runs(state))
        recorded = int(_read(state, "SELECT COUNT(*) FROM applied")[0][0])
        assert 0 < counted <= recorded <= len(sim.applied())

        final = run_tagger("once", "-c", cfg, timeout=180)
        assert final.returncode == 0, final.stderr[-3000:]
        # Starting after the kills, it counted every recorded apply in the run that made it.
        killed = [c for _i, s, c in _runs(state) if s == "running"]
        assert sum(c.get("applied", 0) for c in killed) == recorded
        assert repeated_applies(sim) == {}
        assert applied_pairs(sim) == expected_pairs(sim, load_rules([RULES_DIR, probe]))
