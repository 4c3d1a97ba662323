"""Progress under a crash loop: SIGKILL the daemon every few seconds and count what it kept.

``python -m bench.crash --loop`` runs this. The simulator runs in this process
(with latency, so a cycle takes seconds); ``tagger run`` is started again and
again as a real child process and killed with SIGKILL after a seeded random
0.4-3 s (from its start), like a unit restarted by systemd while something
kills it. After every kill the state file is read (read-only) and, at the
end, the figures are printed:

- the tags applied at the simulator during the loop (distinct pairs) against
  the tags expected, and how many are recorded in the state (kept);
- how many applies the runs' counts show, the killed runs included (counted);
- the cycles that completed, and how far the watermark got (the window
  still to search at the end);
- duplicate apply calls (must be 0).

Then one clean ``tagger once`` finishes the work, and missing or extra tags are
counted against the expected set. Exits 1 when a tag is missing, extra or
applied twice.

    .venv/bin/python -m bench.crash --loop --kills 34 --messages 500 --seed 1
"""

from __future__ import annotations

import contextlib
import json
import random
import signal
import sqlite3
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tagger.rules import load_rules
from tagger.simulator import Simulator, SimulatorConfig
from testkit import RULES_DIR
from testkit.expected import expected_pairs
from testkit.processes import Running, run_tagger
from testkit.quiesce import settle
from testkit.setup import SUMMARY_ONLY_RULE, write_config

ACCOUNT = "demo"


@dataclass
class LoopFigures:
    """What a crash loop achieved, and what the clean run after it found."""

    seed: int
    kills: int
    min_s: float
    max_s: float
    messages: int = 0
    expected: int = 0
    applied_in_loop: int = 0
    recorded_in_loop: int = 0
    counted_in_loop: int = 0
    cycles_completed: int = 0
    runs_started: int = 0
    watermark_lag_s: float | None = None
    duplicate_calls: int = 0
    missing: int = 0
    extra: int = 0
    final_exit: int | None = None
    seconds: float = 0.0

    def ok(self) -> bool:
        """True when nothing is missing, extra or applied twice and the final run succeeded."""
        return (
            self.missing == 0
            and self.extra == 0
            and self.duplicate_calls == 0
            and self.final_exit == 0
        )

    def to_json(self) -> dict[str, Any]:
        """Return the figures as JSON-ready data."""
        return asdict(self)


def _read_only(path: Path) -> contextlib.closing[sqlite3.Connection]:
    return contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10))


def state_figures(state: Path, now: datetime) -> tuple[int, int, int, int, float | None]:
    """Return (pairs recorded, applies counted by runs, runs completed, runs, watermark lag)."""
    if not state.exists():
        return 0, 0, 0, 0, None
    with _read_only(state) as conn:
        (recorded,) = conn.execute(
            "SELECT COUNT(*) FROM applied WHERE account = ?", (ACCOUNT,)
        ).fetchone()
        runs = conn.execute(
            "SELECT status, counts FROM runs WHERE account = ? AND dry_run = 0", (ACCOUNT,)
        ).fetchall()
        marks = conn.execute(
            "SELECT MIN(value) FROM watermarks WHERE account = ?", (ACCOUNT,)
        ).fetchone()
    counted = sum(int(json.loads(c or "{}").get("applied", 0)) for _s, c in runs)
    completed = sum(1 for s, _c in runs if s in ("ok", "partial"))
    lag = None if marks[0] is None else now.timestamp() - int(marks[0]) / 1_000_000
    return int(recorded), counted, completed, len(runs), lag


def run_loop(
    kills: int,
    seed: int,
    messages: int,
    latency_ms: float,
    min_s: float,
    max_s: float,
    log: Callable[[str], None],
) -> LoopFigures:
    """Run the crash loop and the clean run after it; return the figures."""
    started = time.monotonic()
    rng = random.Random(seed)
    figures = LoopFigures(seed=seed, kills=kills, min_s=min_s, max_s=max_s)
    sim_config = SimulatorConfig(
        seed=seed, messages=messages, latency_ms=latency_ms, latency_jitter_ms=latency_ms / 2
    )
    quiet_s = latency_ms * 1.5 / 1000.0 + 0.15
    with tempfile.TemporaryDirectory(prefix="tagger-loop-") as tmp, Simulator(sim_config) as sim:
        work = Path(tmp)
        probe = work / "summary-only.yaml"
        probe.write_text(SUMMARY_ONLY_RULE, encoding="utf-8")
        ruleset = load_rules([RULES_DIR, probe])
        schedule = {"interval": "1s", "jitter": "0s", "misfire_grace": "1m"}
        config = write_config(
            work,
            sim,
            rules=[RULES_DIR / "*.yaml", probe],
            schedule=schedule,
            logging={"format": "json", "level": "info"},
        )
        state = work / "state.db"
        for index in range(kills):
            after = rng.uniform(min_s, max_s)
            daemon = Running("run", "-c", str(config))
            deadline = time.monotonic() + after
            while time.monotonic() < deadline and daemon.proc.poll() is None:
                time.sleep(0.005)
            daemon.proc.send_signal(signal.SIGKILL)
            daemon.wait(timeout=30)
            settle(sim, quiet_s)
            recorded, counted, completed, runs, _lag = state_figures(state, datetime.now(UTC))
            log(
                f"kill {index + 1:3d} after {after:.2f} s: {len(sim.applied())} pairs applied,"
                f" {recorded} recorded, {counted} counted by runs,"
                f" {completed}/{runs} runs completed"
            )
        loop_pairs = sim.applied()
        figures.applied_in_loop = len(loop_pairs)
        (
            figures.recorded_in_loop,
            figures.counted_in_loop,
            figures.cycles_completed,
            figures.runs_started,
            figures.watermark_lag_s,
        ) = state_figures(state, datetime.now(UTC))
        final = run_tagger("once", "-c", str(config), timeout=300)
        figures.final_exit = final.returncode
        if final.returncode != 0:
            log(f"final run failed ({final.returncode}):\n{final.stderr[-3000:]}")
        settle(sim, quiet_s)
        expected = expected_pairs(sim, ruleset)
        calls = sim.applied()
        figures.messages = len(sim.messages())
        figures.expected = len(expected)
        figures.missing = len(expected - set(calls))
        figures.extra = len(set(calls) - expected)
        figures.duplicate_calls = sum(n - 1 for n in calls.values())
    figures.seconds = round(time.monotonic() - started, 1)
    return figures


def report(figures: LoopFigures) -> str:
    """Return the human summary of a crash loop."""
    lag = figures.watermark_lag_s
    return "\n".join(
        [
            f"crash loop: {figures.kills} SIGKILLs {figures.min_s}-{figures.max_s} s after each"
            f" start (seed {figures.seed}), {figures.messages} messages,"
            f" {figures.expected} tags expected",
            f"during the loop: {figures.applied_in_loop} tags applied"
            f" ({100 * figures.applied_in_loop / max(1, figures.expected):.0f}% of expected),"
            f" {figures.recorded_in_loop} recorded in state,"
            f" {figures.counted_in_loop} counted by the runs",
            f"cycles completed: {figures.cycles_completed} of {figures.runs_started} runs;"
            f" watermark lag at the end: {'none saved' if lag is None else f'{lag:.0f} s'}",
            f"after a clean once: {figures.missing} missing, {figures.extra} extra,"
            f" {figures.duplicate_calls} duplicate apply calls; exit {figures.final_exit};"
            f" time {figures.seconds} s",
        ]
    )
