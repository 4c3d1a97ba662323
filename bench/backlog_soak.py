"""A standing backlog: the daemon falls behind at peak and catches up after, failing nothing.

    python -m bench.backlog_soak [--rate 3] [--peak-s 60] [--peak-per-s 6] [--drain-s 300]

A simulator runs in this process with every endpoint limited to ``--rate``
requests/s (a bucket of twice that). The real daemon (``tagger run``, a
process) polls it every ``--interval`` seconds with the default cycle bound
(the interval). For ``--peak-s`` seconds new mail arrives at ``--peak-per-s``
messages/s, more than the quota can read; then arrivals stop and the daemon
is given up to ``--drain-s`` seconds to catch up (the wait stops as soon as
every expected tag is applied).

Prints, per finished cycle, the messages it deferred for the quota and the
tags applied so far, then: whether the backlog grew and drained to zero,
messages failed (``message_failed`` warnings), set aside, tagged twice, and
the expected tags applied. The blast-radius anomaly guard, which a peak is
meant to trip, is set out of reach: the pacing is measured here. Exits 1 when
a target is missed (backlog drained, every expected tag applied once, none
failed or set aside); ``--no-targets`` reports without failing.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from tagger.simulator import Simulator, SimulatorConfig
from tagger.simulator.config import ENDPOINTS
from testkit.expected import expected_pairs
from testkit.processes import Running
from testkit.setup import write_config


def _cycles(state: Path) -> list[dict[str, Any]]:
    """Return the finished live cycles recorded in the state file, oldest first."""
    if not state.exists():
        return []
    with sqlite3.connect(f"file:{state}?mode=ro", uri=True) as db:
        rows = db.execute(
            "SELECT started_at, status, counts FROM runs"
            " WHERE kind = 'run' AND finished_at IS NOT NULL ORDER BY id"
        ).fetchall()
    out = []
    for started, status, counts in rows:
        figures = json.loads(counts or "{}")
        out.append({"started": started, "status": status, **figures})
    return out


def _arrive(sim: Simulator, per_s: float, seconds: float, stop: threading.Event) -> None:
    """Add ``per_s`` messages a second for ``seconds`` (in ticks of a second)."""
    owed = 0.0
    for _ in range(int(seconds)):
        owed += per_s
        whole = int(owed)
        if whole:
            sim.add_messages(whole)
            owed -= whole
        if stop.wait(1.0):
            return


def run(args: argparse.Namespace) -> int:
    """Run the soak; returns the exit status."""
    limits = {endpoint: (2 * args.rate, 2.0) for endpoint in ENDPOINTS}
    config = SimulatorConfig(seed=args.seed, messages=args.start_messages, rate_limits=limits)
    stop = threading.Event()
    with tempfile.TemporaryDirectory(prefix="tagger-soak-") as tmp, Simulator(config) as sim:
        schedule = {"interval": f"{args.interval}s", "jitter": "0s", "misfire_grace": "1m"}
        # The peak is what the blast-radius anomaly guard exists for: it would pause the
        # rules that match far more than their trailing average. Here the pacing is
        # measured, so the guard is set out of reach (its own tests cover it).
        limits = {"per_cycle": 100_000, "per_day": 1_000_000, "anomaly_min_cycles": 1_000_000}
        path = write_config(Path(tmp), sim, schedule=schedule, limits=limits)
        daemon = Running("run", "-c", str(path))
        arrivals = threading.Thread(
            target=_arrive, args=(sim, args.peak_per_s, args.peak_s, stop), daemon=True
        )
        began = time.monotonic()
        arrivals.start()
        arrivals.join()
        peak_end = time.monotonic() - began
        expected = expected_pairs(sim)
        deadline = time.monotonic() + args.drain_s
        while time.monotonic() < deadline and set(sim.applied()) != expected:
            time.sleep(1.0)
        # One more cycle after the last tag, so the last deferral count is recorded.
        time.sleep(args.interval * 2)
        drained_at = time.monotonic() - began
        daemon.stop()
        stop.set()
        applied = sim.applied()
        throttled = sim.stats()["throttled_total"]
        requests = sim.stats()["requests"]
        cycles = _cycles(Path(tmp) / "state.db")
        failed = len(daemon.named("message_failed"))
        set_aside = len(daemon.named("message_set_aside"))
        paused = len(daemon.named("rule_paused"))
    deferred = [int(c.get("quota_deferred", 0)) for c in cycles]
    print(
        f"python {sys.version.split()[0]}; quota {args.rate} requests/s per endpoint (bucket"
        f" {2 * args.rate}); {args.peak_per_s} messages/s arriving for {args.peak_s} s;"
        f" daemon every {args.interval} s, cycle bound = interval\n"
    )
    print("cycle  deferred  applied-so-far")
    total = 0
    for n, cycle in enumerate(cycles, 1):
        total += int(cycle.get("applied", 0))
        print(f"{n:5}  {int(cycle.get('quota_deferred', 0)):8}  {total:14}")
    grew = max(deferred, default=0) > 0
    drained = bool(deferred) and deferred[-1] == 0
    twice = sum(1 for count in applied.values() if count > 1)
    print(
        f"\npeak ended after {peak_end:.0f} s; caught up after {drained_at:.0f} s;"
        f" largest backlog {max(deferred, default=0)} messages"
    )
    print(f"429s: {throttled} of {requests} requests ({throttled / max(requests, 1):.1%})")
    print(
        f"message_failed {failed}, set aside {set_aside}, rules paused {paused},"
        f" tagged twice {twice},"
        f" expected tags applied {len(set(applied) & expected)} of {len(expected)}"
    )
    missed = [
        what
        for ok, what in (
            (grew and drained, "backlog grew and drained to zero"),
            (set(applied) == expected and twice == 0, "every expected tag applied once"),
            (failed == 0 and set_aside == 0, "nothing failed or set aside"),
        )
        if not ok
    ]
    if missed:
        print(f"\ntargets missed: {', '.join(missed)}")
        return 0 if args.no_targets else 1
    print("\nevery target was met")
    return 0


def main() -> int:
    """Parse the options and run the soak."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rate", type=int, default=3, help="requests/s per endpoint")
    parser.add_argument("--interval", type=int, default=10, help="the daemon's interval (s)")
    parser.add_argument("--peak-s", type=int, default=60, help="how long the peak lasts (s)")
    parser.add_argument("--peak-per-s", type=float, default=6.0, help="arrivals at peak")
    parser.add_argument("--drain-s", type=int, default=300, help="most time to catch up (s)")
    parser.add_argument("--start-messages", type=int, default=0, help="mail before the peak")
    parser.add_argument("--seed", type=int, default=3)
    parser.add_argument("--no-targets", action="store_true", help="do not fail on targets")
    return run(parser.parse_args())


if __name__ == "__main__":
    raise SystemExit(main())
