"""The kill switch against a live daemon mid-apply: how many applies land after it returns.

One trial waits until a running ``tagger run`` is applying (the simulator's
apply counter moves), lets a drawn number of further applies through, runs
``tagger pause --all`` to completion, and samples the simulator's apply
counter all along (every few milliseconds, from a thread). Every apply the
simulator executes after the moment the command returned is a *late* apply
(one the operator was told had stopped); the trial counts as *mid-apply*
when applies were still being executed in the half second before that
moment (or came late). The switch is lifted afterwards, so the next trial finds the daemon
applying the held tags again. Shared by the suite (a few trials) and
``bench.killswitch`` (the figures).
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from tagger.simulator import Simulator
from testkit.processes import run_tagger, wait_until

# How long the simulator is watched after the command returned: far longer
# than an apply under way could take to arrive (the simulator's latency is 40 ms).
WATCH_S = 1.5
# Applies executed this long before the command returned make the trial mid-apply.
MID_APPLY_S = 0.5
SAMPLE_S = 0.002


@dataclass(frozen=True)
class PauseTrial:
    """What one trial saw: late applies, the last one's delay, whether it was mid-apply."""

    late: int
    last_late_s: float
    mid_apply: bool
    command_s: float
    returncode: int
    output: str


def apply_calls(sim: Simulator) -> int:
    """Return the apply calls the simulator has executed (successful ones)."""
    return sum(sim.applied().values())


def ensure_work(sim: Simulator, minimum: int, remaining: Callable[[], int]) -> None:
    """Add mail until ``remaining()`` (applies still to make) is at least ``minimum``."""
    for _ in range(100):
        if remaining() >= minimum:
            return
        sim.add_messages(200)
    raise RuntimeError("could not create enough work: the rules match too little mail")


class _Sampler(threading.Thread):
    """Samples the simulator's apply counter with the monotonic clock until stopped."""

    def __init__(self, sim: Simulator) -> None:
        super().__init__(daemon=True)
        self.sim = sim
        self.samples: list[tuple[float, int]] = []
        self.halt = threading.Event()

    def run(self) -> None:
        while not self.halt.is_set():
            self.samples.append((time.monotonic(), apply_calls(self.sim)))
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
    lifted = run_tagger("resume", "--all", "-c", config)
    if lifted.returncode != 0:
        raise AssertionError(f"resume failed: {lifted.stdout}{lifted.stderr}")
    samples = sampler.samples
    at_return = max((n for t, n in samples if t <= returned), default=samples[0][1])
    before = min((n for t, n in samples if t >= returned - MID_APPLY_S), default=at_return)
    final = samples[-1][1]
    # When the last late apply was executed: the first sample showing the final count.
    last = min((t for t, n in samples if t > returned and n == final), default=returned)
    return PauseTrial(
        late=final - at_return,
        last_late_s=last - returned if final > at_return else 0.0,
        mid_apply=at_return > before or final > at_return,
        command_s=returned - began,
        returncode=done.returncode,
        output=done.stdout + done.stderr,
    )
