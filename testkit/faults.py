"""The fault-soak and late-indexing scenarios: the live daemon against a misbehaving simulator.

Each runs ``tagger run`` as a real process against a simulator in this
process, until every expected (message, tag) pair is applied (or a deadline
passes), then compares the simulator's tags with the set the rule evaluator
computes from the mailbox alone. ``bench/faults.py`` prints their figures at
full scale; the test suite runs them smaller. See ``bench/faults.py`` for
what each scenario injects.
"""

from __future__ import annotations

import contextlib
import random
import sqlite3
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from tagger.simulator import FaultConfig, Simulator, SimulatorConfig
from tagger.simulator.config import API_ENDPOINTS, DEFAULT_RATE_LIMITS, SEARCH
from testkit.expected import expected_pairs
from testkit.processes import Running
from testkit.setup import account_yaml, write_config

RETRY_EVENTS = ("mimecast_retry", "mimecast_rate_limited")


@dataclass
class Result:
    """The figures of one scenario."""

    scenario: str
    messages: int = 0
    expected: int = 0
    applied: int = 0
    missing: int = 0
    extra: int = 0
    duplicate_calls: int = 0
    completed: bool = False
    seconds: float = 0.0
    exit_code: int | None = None
    set_aside: int = 0
    figures: dict[str, Any] = field(default_factory=dict)

    def ok(self) -> bool:
        """True when every expected tag was applied, nothing else, and the daemon exited 0."""
        bounded = self.duplicate_calls <= int(self.figures.get("duplicates_allowed", 0))
        return (
            self.completed
            and self.missing == 0
            and self.extra == 0
            and self.set_aside == 0
            and self.exit_code == 0
            and bounded
        )

    def to_json(self) -> dict[str, Any]:
        """Return the figures as JSON-ready data."""
        out = {k: v for k, v in self.__dict__.items() if k != "figures"}
        out["seconds"] = round(self.seconds, 1)
        out["ok"] = self.ok()
        return out | self.figures


def set_aside_count(state: Path) -> int:
    """Return how many messages the daemon gave up on (set aside) in the state file."""
    if not state.exists():
        return 0
    with contextlib.closing(sqlite3.connect(f"file:{state}?mode=ro", uri=True)) as conn:
        row = conn.execute("SELECT COUNT(*) FROM failures WHERE set_aside_at IS NOT NULL")
        return int(row.fetchone()[0])


@contextlib.contextmanager
def background(
    work: Callable[[threading.Event, threading.Event], None],
) -> Iterator[threading.Event]:
    """Run ``work(stop, added)`` in a thread during the block; yields ``added``.

    ``work`` sets ``added`` once it has added all the mail it will add; it
    must return soon after ``stop`` is set. The thread is joined on exit.
    """
    stop, added = threading.Event(), threading.Event()
    thread = threading.Thread(target=work, args=(stop, added), daemon=True)
    thread.start()
    try:
        yield added
    finally:
        stop.set()
        thread.join(timeout=10)


def drive(
    sim: Simulator,
    work: Path,
    result: Result,
    deadline_s: float,
    extra_config: dict[str, Any],
    churn: Callable[[threading.Event, threading.Event], None],
) -> Running:
    """Run the daemon with ``churn`` going on until every expected tag is applied; stop it.

    Fills in completion, time, exit code, the tag comparison and set-aside
    count of ``result``; returns the finished process (for its log).
    """
    config = write_config(work, sim, **extra_config)
    started = time.monotonic()
    deadline = started + deadline_s
    daemon = Running("run", "-c", str(config))
    try:
        with background(churn) as added:
            expected: set[tuple[str, str]] | None = None
            while time.monotonic() < deadline and daemon.proc.poll() is None:
                if expected is None and added.is_set():
                    expected = expected_pairs(sim)  # the mailbox is final from here on
                if expected is not None and expected <= set(sim.applied()):
                    result.completed = True
                    break
                time.sleep(0.1)
            result.seconds = time.monotonic() - started
    finally:
        result.exit_code = daemon.stop(timeout=60)
    expected = expected_pairs(sim)
    calls = sim.applied()
    result.messages = len(sim.messages())
    result.expected = len(expected)
    result.applied = len(calls)
    result.missing = len(expected - set(calls))
    result.extra = len(set(calls) - expected)
    result.duplicate_calls = sum(n - 1 for n in calls.values())
    result.set_aside = set_aside_count(work / "state.db")
    return daemon


def soak(seed: int, messages: int, deadline_s: float) -> Result:
    """Run the fault soak (see the module docstring)."""
    faults = FaultConfig(
        error_5xx=0.10, drop=0.05, malformed_json=0.01, seed=seed, include_token=True
    )
    cfg = SimulatorConfig(
        seed=seed, messages=messages, latency_ms=2, latency_jitter_ms=40, faults=faults
    )
    result = Result("soak")
    rng = random.Random(seed)
    bursts = [0]

    def throttle(stop: threading.Event, added: threading.Event) -> None:
        added.set()  # no mail is added during the soak
        # From the first search on (a start-up that cannot list the tags exits
        # for the service manager to restart it): bursts of 429s on a random
        # endpoint (or all), each with its own reset time.
        while sim.stats()["endpoints"]["search"]["total"] == 0:
            if stop.wait(0.05):
                return
        while True:
            endpoint = rng.choice([None, *API_ENDPOINTS])
            sim.throttle(endpoint, calls=rng.randint(2, 6), reset_ms=rng.randint(100, 1500))
            bursts[0] += 1
            if stop.wait(rng.uniform(0.5, 2.5)):
                return

    with tempfile.TemporaryDirectory(prefix="tagger-soak-") as tmp, Simulator(cfg) as sim:
        account = account_yaml(sim)
        # Generous enough for this fault rate: 8 attempts over at most a minute.
        account["retry"] = {"max_attempts": 8, "max_total_s": 60, "base_delay_s": 0.05}
        daemon = drive(sim, Path(tmp), result, deadline_s, {"accounts": [account]}, throttle)
        stats = sim.stats()
    retries = sum(len(daemon.named(e)) for e in RETRY_EVENTS)
    result.figures = {
        "calls": stats["requests"],
        "retries": retries,
        "throttled_429": stats["throttled_total"],
        "throttle_bursts": bursts[0],
        "faults": stats["faults"],
        "token_refreshes": len(daemon.named("mimecast_token_refresh")),
        "duplicates_allowed": stats["faults"].get("malformed_json", 0),
    }
    return result


def late(seed: int, messages: int, deadline_s: float) -> Result:
    """Run late indexing with capped windows at scale (see the module docstring)."""
    cfg = SimulatorConfig(
        seed=seed,
        messages=messages,
        history_hours=0.25,
        search_cap=100,
        late_fraction=0.1,
        late_delay_s=8,
        # Re-searching an overlap that holds more than the cap splits it again
        # every cycle; at a 3 s interval that outruns the default 300 searches a
        # minute, which is not what this scenario is about.
        rate_limits={**DEFAULT_RATE_LIMITS, SEARCH: (1200, 60.0)},
    )
    result = Result("late")
    # A late message is searched again while it is within the overlap; a short
    # overlap keeps each cycle's re-search (and its window splits) small.
    window = {
        "overlap": "1m",
        "ingestion_delay": "0s",
        "initial_lookback": "1h",
        "max_catchup": "7d",
        "split_min": "1s",
        "search_cap": 100,
    }
    with tempfile.TemporaryDirectory(prefix="tagger-late-") as tmp, Simulator(cfg) as sim:
        started = sim.now()

        def bursts(stop: threading.Event, added: threading.Event) -> None:
            for _ in range(5):
                if stop.wait(1.0):
                    return
                sim.add_messages(60)
            added.set()

        schedule = {"interval": "3s", "jitter": "0s", "misfire_grace": "1m", "max_cycle": "1m"}
        extra = {"window": window, "schedule": schedule}
        daemon = drive(sim, Path(tmp), result, deadline_s, extra, bursts)
        expected = expected_pairs(sim)
        # Indexed late, and only after the daemon had started: its first search missed them.
        late_ids = {m.id for m in sim.messages() if started < m.indexed != m.received}
        late_pairs = {p for p in expected if p[0] in late_ids}
        stats = sim.stats()
    finished = daemon.named("cycle_finished")
    result.figures = {
        "searches": stats["endpoints"]["search"]["total"],
        "window_splits": sum(int(e.get("window_splits", 0)) for e in finished),
        "saturated_windows": len(daemon.named("search_window_saturated")),
        "late_messages": len(late_ids),
        "late_expected_pairs": len(late_pairs),
        "late_pairs_applied": len(late_pairs & set(sim.applied())),
        "cycles": len(finished),
    }
    return result
