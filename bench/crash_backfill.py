"""Crash consistency of ``tagger backfill`` without ``--until``: SIGKILL it, start it again.

The same command is started again and again (``backfill --since 2d``, no
``--until``: its end is "now" at the first start) and SIGKILLed after a seeded
random number of applies, each time with the simulator's latency keeping
applies in flight. Then the same command runs to completion once more. The
simulator's tags are compared with the expected set computed from the mailbox
by the rule evaluator alone, and every apply call made twice for one
(message, tag) is counted. A rule decided from the search summary alone
(never reading message info) is included: for it, only the state and the
verification after a cut-off run stand between a restart and a second apply.
Prints the figures; exits 1 if a tag is missing or extra, an apply was
repeated, the state was corrupt after a kill, or the final run failed.

    .venv/bin/python -m bench.crash_backfill --trials 20 --seed 1
"""

from __future__ import annotations

import argparse
import json
import random
import signal
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from bench.crash import SUMMARY_ONLY_RULE, _spin, apply_calls, integrity, settle
from tagger.rules import load_rules
from tagger.simulator import Simulator, SimulatorConfig
from testkit import RULES_DIR
from testkit.expected import expected_pairs
from testkit.processes import Running, run_tagger, wait_until
from testkit.setup import write_config

SINCE = "2d"
SLICE = "2h"


@dataclass
class Outcome:
    """The figures of one harness run."""

    seed: int
    trials: int = 0
    kills_mid_run: int = 0
    exited_before_kill: int = 0
    corrupt: int = 0
    resumed_starts: int = 0
    messages: int = 0
    expected: int = 0
    applied: int = 0
    missing: int = 0
    extra: int = 0
    duplicate_calls: int = 0
    final_exit: int | None = None
    seconds: float = 0.0
    details: list[dict[str, Any]] = field(default_factory=list)

    def ok(self) -> bool:
        """Return True when nothing was lost, extra, repeated or corrupt."""
        return (
            self.missing == self.extra == self.duplicate_calls == self.corrupt == 0
            and self.final_exit == 0
        )


def run(
    trials: int, seed: int, messages: int, latency_ms: float, log: Callable[[str], None]
) -> Outcome:
    """Kill the backfill ``trials`` times, finish it, and return the figures."""
    started = time.monotonic()
    rng = random.Random(seed)
    outcome = Outcome(seed=seed)
    sim_config = SimulatorConfig(
        seed=seed, messages=messages, latency_ms=latency_ms, latency_jitter_ms=latency_ms
    )
    quiet_s = 2 * latency_ms / 1000.0 + 0.15
    with (
        tempfile.TemporaryDirectory(prefix="tagger-crash-bf-") as tmp,
        Simulator(sim_config) as sim,
    ):
        work = Path(tmp)
        probe = work / "summary-only.yaml"
        probe.write_text(SUMMARY_ONLY_RULE, encoding="utf-8")
        ruleset = load_rules([RULES_DIR, probe])
        # The safety rails' limits and audit-first rollout would hold tags back on
        # purpose; this harness measures the exactly-once protocol alone.
        config = write_config(
            work,
            sim,
            rules=[RULES_DIR / "*.yaml", probe],
            rollout="enforce",
            limits={"per_cycle": 1_000_000, "per_day": 1_000_000, "anomaly_factor": 0},
        )
        state = work / "state.db"
        command = ("backfill", "-c", str(config), "--since", SINCE, "--slice", SLICE)
        total = len(expected_pairs(sim, ruleset))
        for index in range(trials):
            before = apply_calls(sim)
            left = max(1, total - len(sim.applied()))
            # About half the job over all the kills: most land while it still works.
            target = before + rng.randint(1, max(1, min(left, total // trials)))
            proc = Running(*command)
            try:

                def progressed(target: int = target, proc: Running = proc) -> bool:
                    return apply_calls(sim) >= target or proc.proc.poll() is not None

                wait_until(progressed, 120, f"{target - before} applies")
                _spin(rng.uniform(0.0, 0.1))
                exited = proc.proc.poll() is not None
                proc.proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=30)
            finally:
                if proc.proc.poll() is None:
                    proc.proc.kill()
                    proc.wait(timeout=30)
            settle(sim, quiet_s)
            check = integrity(state)
            outcome.trials += 1
            outcome.exited_before_kill += int(exited)
            outcome.kills_mid_run += int(not exited)
            outcome.corrupt += int(check != "ok")
            outcome.resumed_starts += int("resuming backfill" in proc.stdout)
            repeated = sum(n - 1 for n in sim.applied().values())
            outcome.details.append(
                {
                    "trial": index,
                    "applies": [before, apply_calls(sim)],
                    "exited": exited,
                    "integrity": check,
                    "repeated_so_far": repeated,
                }
            )
            log(
                f"trial {index:3d} applies {before}->{apply_calls(sim)} integrity {check}"
                f" repeated so far {repeated}" + ("  EXITED BEFORE KILL" if exited else "")
            )
        final = run_tagger(*command, timeout=600)
        outcome.final_exit = final.returncode
        if final.returncode != 0:
            log(f"final run failed ({final.returncode}):\n{final.stderr[-3000:]}")
        settle(sim, quiet_s)
        expected = expected_pairs(sim, ruleset)
        calls = sim.applied()
        applied = set(calls)
        outcome.messages = len(sim.messages())
        outcome.expected = len(expected)
        outcome.applied = len(applied)
        outcome.missing = len(expected - applied)
        outcome.extra = len(applied - expected)
        outcome.duplicate_calls = sum(n - 1 for n in calls.values())
    outcome.seconds = round(time.monotonic() - started, 1)
    return outcome


def report(outcome: Outcome) -> str:
    """Return the human summary of a harness run."""
    return "\n".join(
        [
            f"backfill crash trials: {outcome.trials} SIGKILLs (seed {outcome.seed}),"
            f" {outcome.kills_mid_run} while it ran, {outcome.resumed_starts} starts resumed"
            f" the saved job; {outcome.trials - outcome.corrupt}/{outcome.trials} integrity ok",
            f"tags: {outcome.expected} expected over {outcome.messages} messages,"
            f" {outcome.applied} applied, {outcome.missing} missing, {outcome.extra} extra",
            f"duplicate apply calls: {outcome.duplicate_calls}",
            f"final clean run exit code: {outcome.final_exit}; time {outcome.seconds} s",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the harness, print the figures; 0 when nothing was lost or repeated."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=20, help="number of SIGKILLs (default 20)")
    parser.add_argument("--seed", type=int, default=1, help="RNG seed (default 1)")
    parser.add_argument("--messages", type=int, default=400, help="mailbox size")
    parser.add_argument("--latency-ms", type=float, default=25.0, help="simulated API latency")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line")
    parser.add_argument("--quiet", action="store_true", help="no per-trial lines")
    args = parser.parse_args(argv)
    if args.trials < 1:
        parser.error("--trials must be at least 1")

    def log(line: str) -> None:
        if not args.quiet:
            print(line, file=sys.stderr, flush=True)

    outcome = run(args.trials, args.seed, args.messages, args.latency_ms, log)
    data = outcome.__dict__ | {"details": outcome.details}
    print(json.dumps(data) if args.json else report(outcome), flush=True)
    return 0 if outcome.ok() else 1


if __name__ == "__main__":
    raise SystemExit(main())
