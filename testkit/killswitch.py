"""The kill switch against a live daemon mid-apply: how many applies land after it returns.

One trial waits until a running ``tagger run`` is applying (the simulator's
apply counter moves), lets a drawn number of further applies through, runs
``tagger pause --all`` to completion, and samples the simulator's apply
counter all along (every few milliseconds, from a thread). Every apply the
simulator executes after the moment the command returned is a *late* apply
(one the operator was told had stopped); the trial counts as *mid-apply*
when applies were being executed in the 0.3 s before the switch was stored
(the time of its row in the state file), or came late. The switch is
lifted afterwards, so the next trial finds the daemon applying the held
tags again. Shared by the suite (a few trials) and
``bench.killswitch`` (the figures).
"""

from __future__ import annotations

import contextlib
import random
import sqlite3
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from tagger.simulator import Simulator
from testkit.processes import run_tagger, wait_until

# How long the simulator is watched after the command returned: far longer
# than an apply under way could take to arrive (the simulator's latency is 40 ms).
WATCH_S = 1.5
# Applies executed this long before the switch was stored make the trial mid-apply.
MID_APPLY_S = 0.3
SAMPLE_S = 0.005


@dataclass(frozen=True)
class PauseTrial:
    """What one trial saw: late applies, the last one's delay, whether it was mid-apply."""

    late: int
    last_late_s: float
    mid_apply: bool
    command_s: float
    returncode: int
    output: str


def switch_stored_at(state: Path) -> float:
    """Return when the kill switch's row was last written (seconds since the epoch)."""
    with contextlib.closing(sqlite3.connect(f"{state.resolve().as_uri()}?mode=ro", uri=True)) as db:
        row = db.execute("SELECT updated_at FROM switches WHERE name = 'pause_all'").fetchone()
    return float(row[0]) / 1e6 if row else 0.0


def apply_calls(sim: Simulator) -> int:
    """Return the apply calls the simulator has executed (successful ones)."""
    return sum(sim.applied().values())


def ensure_work(
    sim: Simulator, minimum: int, remaining: Callable[[], int], batch: int = 40
) -> None:
    """Add mail, ``batch`` messages at a time, until ``remaining()`` is at least ``minimum``.

    ``remaining()`` counts the applies still to make. The simulator receives a
    batch within a second: keep it under the search cap.
    """
    for _ in range(500):
        if remaining() >= minimum:
            return
        sim.add_messages(batch)
    raise RuntimeError("could not create enough work: the rules match too little mail")


class _Sampler(threading.Thread):
    """Samples the simulator's apply counter with the monotonic clock until stopped."""

    def __init__(self, sim: Simulator) -> None:
        super().__init__(daemon=True)
        self.sim = sim
        self.samples: list[tuple[float, int]] = []
        self.wall: list[float] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            self.samples.append((time.monotonic(), apply_calls(self.sim)))
            self.wall.append(time.time())
            time.sleep(SAMPLE_S)


def pause_trial(
    sim: Simulator, config: str, rng: random.Random, watch_s: float = WATCH_S
) -> PauseTrial:
    """Run one trial against the daemon applying from ``sim`` (see the module docstring).

    Given the simulator, the config the daemon runs with, the RNG that draws
    how many applies to let through first, and how long to watch for late
    applies. The switch is lifted again before returning.
    """
    start = apply_calls(sim)
    wait_until(lambda: apply_calls(sim) > start, 30, "the daemon to apply")
    through = apply_calls(sim) + rng.randint(0, 15)
    wait_until(lambda: apply_calls(sim) >= through, 30, "more applies")
    sampler = _Sampler(sim)
    sampler.start()
    began = time.monotonic()
    done = run_tagger("pause", "--all", "-c", config)
    returned = time.monotonic()
    time.sleep(watch_s)
    sampler.halt.set()
    sampler.join()
    # Before the resume, which writes the switch's row again.
    stored = switch_stored_at(Path(config).parent / "state.db")
    lifted = run_tagger("resume", "--all", "--yes", "-c", config)
    if lifted.returncode != 0:
        raise AssertionError(f"resume failed: {lifted.stdout}{lifted.stderr}")
    samples = sampler.samples
    at_return = max((n for t, n in samples if t <= returned), default=samples[0][1])
    # Mid-apply: applies were executed in the moments before the switch was stored
    # (its row's time, on the wall clock the sampler also noted).
    counts = [
        n
        for n, w in zip((n for _, n in samples), sampler.wall, strict=True)
        if stored - MID_APPLY_S <= w <= stored
    ]
    mid = len(counts) > 1 and counts[-1] > counts[0]
    final = samples[-1][1]
    # When the last late apply was executed: the first sample showing the final count.
    last = min((t for t, n in samples if t > returned and n == final), default=returned)
    return PauseTrial(
        late=final - at_return,
        last_late_s=last - returned if final > at_return else 0.0,
        mid_apply=mid or final > at_return,
        command_s=returned - began,
        returncode=done.returncode,
        output=done.stdout + done.stderr,
    )
