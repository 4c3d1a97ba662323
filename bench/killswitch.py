"""The kill switch against a live daemon mid-apply: applies that land after it returns.

Runs the simulator in this process with a latency per call (40 ms by
default, so applies are always in flight) and ``tagger run`` as a real child
process, then repeats :func:`testkit.killswitch.pause_trial`: wait until the
daemon is applying, let a random number of further applies through, run
``tagger pause --all`` to completion, and count the apply calls the simulator
executes from the moment the command returned (``late``). The switch is lifted
after each trial, so the next cycle applies the held tags again. At the end
the daemon is left to finish and the simulator's tags are compared with the
expected set: nothing missing, nothing applied twice.

Prints the figures; exits 1 when any apply landed after the command returned,
a command failed, or a tag is missing or applied twice.

    .venv/bin/python -m bench.killswitch --trials 20 --latency-ms 40
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from tagger.rules import load_rules
from tagger.simulator import Simulator, SimulatorConfig
from testkit import RULES_DIR
from testkit.expected import expected_pairs, repeated_applies
from testkit.killswitch import PauseTrial, apply_calls, ensure_work, pause_trial
from testkit.processes import Running, wait_until
from testkit.setup import TEST_WINDOW, write_config


def applied(sim: Simulator) -> set[tuple[str, str]]:
    """Return the (message, tag) pairs the simulator has applied."""
    return set(sim.applied())


def run(
    trials: int,
    seed: int,
    messages: int,
    latency_ms: float,
    backlog: int,
    verbose: bool,
    watch_s: float = 4.0,
) -> dict[str, Any]:
    """Run the trials against one daemon; returns the figures."""
    rng = random.Random(seed)
    results: list[PauseTrial] = []
    # A search cap far above what one second of added mail holds: the mail added
    # between trials arrives in a burst, and the figures are about applies.
    config_sim = SimulatorConfig(
        seed=seed, messages=messages, latency_ms=latency_ms, search_cap=5000
    )
    started = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="tagger-kill-") as tmp, Simulator(config_sim) as sim:
        work = Path(tmp)
        schedule = {"interval": "1s", "jitter": "0s", "misfire_grace": "1m", "max_cycle": "1m"}
        window = {**TEST_WINDOW, "search_cap": 5000}
        config = str(write_config(work, sim, schedule=schedule, window=window))
        ruleset = load_rules([RULES_DIR])
        daemon = Running("run", "-c", config)
        try:
            for index in range(trials):
                ensure_work(
                    sim, backlog, lambda: len(expected_pairs(sim, ruleset) - applied(sim)), 400
                )
                trial = pause_trial(sim, config, rng, watch_s)
                results.append(trial)
                if verbose:
                    print(
                        f"trial {index + 1:2d}: {trial.late} late applies"
                        f" (last {trial.last_late_s:.3f} s after),"
                        f" {'mid-apply' if trial.mid_apply else 'NOT mid-apply'}, command"
                        f" {trial.command_s:.2f} s, exit {trial.returncode}",
                        file=sys.stderr,
                        flush=True,
                    )
            wait_until(
                lambda: set(sim.applied()) >= expected_pairs(sim, ruleset), 120, "the held tags"
            )
        finally:
            daemon.stop()
        expected = expected_pairs(sim, ruleset)
        landed = applied(sim)
        return {
            "trials": len(results),
            "latency_ms": latency_ms,
            "late_applies": sum(t.late for t in results),
            "trials_with_late_applies": sum(1 for t in results if t.late),
            "trials_mid_apply": sum(1 for t in results if t.mid_apply),
            "last_late_s": round(max((t.last_late_s for t in results), default=0.0), 3),
            "command_s_max": round(max((t.command_s for t in results), default=0.0), 3),
            "command_s_mean": round(sum(t.command_s for t in results) / max(len(results), 1), 3),
            "command_failures": sum(1 for t in results if t.returncode != 0),
            "applies": apply_calls(sim),
            "missing": len(expected - landed),
            "applied_twice": len(repeated_applies(sim)),
            "seconds": round(time.monotonic() - started, 1),
        }


def report(figures: dict[str, Any]) -> str:
    """Return the figures as text lines."""
    return "\n".join(
        [
            f"kill switch against a live daemon, {figures['latency_ms']:g} ms per call,"
            f" {figures['trials']} trials",
            f"  applies after 'pause --all' returned: {figures['late_applies']}"
            f" (in {figures['trials_with_late_applies']} trials; last"
            f" {figures['last_late_s']} s after); {figures['trials_mid_apply']} trials"
            " were mid-apply when the switch went on",
            f"  command time: mean {figures['command_s_mean']} s, max {figures['command_s_max']} s;"
            f" failed commands: {figures['command_failures']}",
            f"  afterwards: {figures['applies']} applies, {figures['missing']} missing,"
            f" {figures['applied_twice']} applied twice ({figures['seconds']} s)",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the trials, print the figures; 0 when no apply came late."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=20, help="number of pauses (default 20)")
    parser.add_argument("--seed", type=int, default=1, help="RNG seed (default 1)")
    parser.add_argument("--messages", type=int, default=600, help="initial mailbox size")
    parser.add_argument("--latency-ms", type=float, default=40.0, help="simulated API latency")
    parser.add_argument(
        "--work", type=int, default=800, help="applies left to make before each trial"
    )
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line")
    parser.add_argument("--quiet", action="store_true", help="no per-trial lines")
    args = parser.parse_args(argv)
    if args.trials < 1:
        parser.error("--trials must be at least 1")
    figures = run(args.trials, args.seed, args.messages, args.latency_ms, args.work, not args.quiet)
    print(json.dumps(figures) if args.json else report(figures), flush=True)
    bad = figures["late_applies"] or figures["command_failures"]
    return 1 if bad or figures["missing"] or figures["applied_twice"] else 0


if __name__ == "__main__":
    raise SystemExit(main())
