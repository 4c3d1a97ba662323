"""Waiting for the simulator to go quiet after a tagger process was killed.

A killed process's requests still run to completion inside the simulator (an
apply in flight is executed although nobody reads the answer); the checks
after a kill must see their effect. Shared by the crash tests and benchmarks.
"""

from __future__ import annotations

import time

from tagger.simulator import Simulator

__all__ = ["settle"]


def settle(sim: Simulator, quiet_s: float = 0.3, timeout: float = 10.0) -> None:
    """Wait until ``sim`` answered no request for ``quiet_s`` seconds (at most ``timeout``)."""
    deadline = time.monotonic() + timeout
    last = sim.stats()["requests"]
    quiet_since = time.monotonic()
    while time.monotonic() < deadline:
        time.sleep(0.02)
        now = sim.stats()["requests"]
        if now != last:
            last, quiet_since = now, time.monotonic()
        elif time.monotonic() - quiet_since >= quiet_s:
            return
