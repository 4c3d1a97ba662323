"""A simulator for benchmarks, served from a child process (or in this one).

Running the simulator in its own process keeps its request handling off the
CPU of the process being measured, as a real Mimecast would. Run directly it
serves until standard input closes or SIGTERM arrives, after printing
``listening on URL``::

    python -m bench.simproc --messages 2000 --start 1767225600 --latency-ms 50 \
        --max-concurrency 16

Every rate limit is set far above what a benchmark can reach, so the figures
measure latency and concurrency, not quotas. :func:`child_simulator` starts
one and yields a :class:`SimHandle`; :func:`sim_config` builds the same
configuration in-process (e.g. to compute the expected tags from the mailbox
without serving it).
"""

from __future__ import annotations

import argparse
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from tagger.simulator import Simulator, SimulatorConfig
from tagger.simulator.config import ENDPOINTS
from testkit import ROOT

# Quotas no benchmark reaches: ten million calls per minute per endpoint.
GENEROUS = {endpoint: (10_000_000, 60.0) for endpoint in ENDPOINTS}
START_TIMEOUT_S = 120.0


def sim_config(
    *,
    messages: int,
    start: float,
    seed: int = 1,
    latency_ms: float = 0.0,
    max_concurrency: int = 0,
    search_cap: int = 500,
) -> SimulatorConfig:
    """Return the simulator configuration the benchmarks use (generous rate limits)."""
    return SimulatorConfig(
        seed=seed,
        messages=messages,
        start_time=datetime.fromtimestamp(start, UTC),
        latency_ms=latency_ms,
        max_concurrency=max_concurrency,
        search_cap=search_cap,
        rate_limits=GENEROUS,
    )


@dataclass(frozen=True)
class SimHandle:
    """A running child simulator: its URL, and its counters over HTTP."""

    url: str

    def stats(self) -> dict[str, Any]:
        """Return the simulator's counters (``GET /_sim/stats``)."""
        response = httpx.get(f"{self.url}/_sim/stats", timeout=30)
        response.raise_for_status()
        data: dict[str, Any] = response.json()
        return data

    def calls(self) -> dict[str, int]:
        """Return the number of requests answered so far, per endpoint key."""
        return {k: int(v["total"]) for k, v in self.stats()["endpoints"].items()}

    def applied(self) -> set[tuple[str, str]]:
        """Return the (message id, tag id) pairs applied so far."""
        return {(a["id"], a["smartTagId"]) for a in self.stats()["applied"]}


@contextmanager
def child_simulator(
    *,
    messages: int,
    start: float,
    seed: int = 1,
    latency_ms: float = 0.0,
    max_concurrency: int = 0,
) -> Iterator[SimHandle]:
    """Run this module as a child process serving one simulator; yields its handle.

    Raises RuntimeError when the child does not report its URL.
    """
    cmd = [sys.executable, "-m", "bench.simproc", "--messages", str(messages)]
    cmd += ["--start", repr(start), "--seed", str(seed), "--latency-ms", str(latency_ms)]
    cmd += ["--max-concurrency", str(max_concurrency)]
    proc = subprocess.Popen(cmd, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True, cwd=ROOT)
    try:
        assert proc.stdout is not None
        line = first_line(proc, START_TIMEOUT_S)
        if not line.startswith("listening on "):
            raise RuntimeError(f"benchmark simulator did not start: {line!r}")
        yield SimHandle(line.split(" ", 2)[2].strip())
    finally:
        if proc.stdin is not None:
            proc.stdin.close()
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            proc.terminate()
            proc.wait(timeout=15)


def first_line(proc: subprocess.Popen[str], timeout: float) -> str:
    """Return the child's next line of output, or "" when none comes within ``timeout``."""
    got: list[str] = []

    def read() -> None:
        assert proc.stdout is not None
        got.append(proc.stdout.readline())

    reader = threading.Thread(target=read, daemon=True)
    reader.start()
    reader.join(timeout)
    return got[0] if got else ""


def main() -> int:
    """Serve one simulator until standard input closes or SIGTERM; returns 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, required=True)
    parser.add_argument("--start", type=float, required=True, help="mailbox clock, epoch s")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--latency-ms", type=float, default=0.0)
    parser.add_argument("--max-concurrency", type=int, default=0)
    args = parser.parse_args()
    config = sim_config(
        messages=args.messages,
        start=args.start,
        seed=args.seed,
        latency_ms=args.latency_ms,
        max_concurrency=args.max_concurrency,
    )
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())

    def watch_stdin() -> None:
        sys.stdin.read()
        done.set()

    threading.Thread(target=watch_stdin, daemon=True).start()
    with Simulator(config) as sim:
        print(f"listening on {sim.url}", flush=True)
        while not done.wait(0.5):
            pass
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
