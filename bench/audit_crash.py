"""The audit file as a write-ahead record: every apply that reached the service has its line.

Two parts, against the simulator in this process (with latency, so kills land
while applies are in flight), with ``tagger`` as real child processes:

- **SIGKILL**: start ``tagger run``, kill it with SIGKILL after a drawn number
  of applies plus a drawn delay, let the simulator finish the requests under
  way, and compare the (message, tag) pairs the simulator applied with those
  the audit file's apply lines name (:mod:`testkit.writeahead`);
- **full disk**: ``tagger once`` under a file size limit the audit file reaches
  part-way through the cycle (``RLIMIT_FSIZE``; a full disk fails the same
  write), drawn room left each time; the run must stop applying with a clear
  error, and every pair applied must still have its line.

At the end one clean ``tagger once`` finishes the work; ``tagger report`` then
counts each applied pair once. Last, the cost of one write-ahead record
(write and ``fdatasync``) is timed in a temporary folder.

Prints the figures; exits 1 when any applied pair has no audit line, a
full-disk run did not say why it stopped, or a pair is counted twice.

    .venv/bin/python -m bench.audit_crash --trials 20 --disk-trials 5
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from tagger.audit import read_records
from tagger.audit.journal import Journal
from tagger.rules import load_rules
from tagger.simulator import Simulator, SimulatorConfig
from testkit import RULES_DIR
from testkit.expected import expected_pairs, repeated_applies
from testkit.processes import run_tagger
from testkit.setup import TEST_WINDOW, write_config
from testkit.writeahead import apply_lines, compare, full_disk_run, kill_trial

SCHEDULE = {"interval": "1s", "jitter": "0s", "misfire_grace": "1m", "max_cycle": "1m"}


def _log(verbose: bool, line: str) -> None:
    if verbose:
        print(line, file=sys.stderr, flush=True)


def sigkill_part(trials: int, seed: int, latency_ms: float, verbose: bool) -> dict[str, Any]:
    """Run the SIGKILL trials; returns their figures."""
    rng = random.Random(seed)
    # A search cap far above what one second of added mail holds: the mail added
    # between kills arrives in bursts, and the figures are about applies.
    config_sim = SimulatorConfig(
        seed=seed,
        messages=300,
        latency_ms=latency_ms,
        latency_jitter_ms=latency_ms,
        search_cap=5000,
    )
    worst = 0
    with tempfile.TemporaryDirectory(prefix="tagger-wal-") as tmp, Simulator(config_sim) as sim:
        work = Path(tmp)
        window = {**TEST_WINDOW, "search_cap": 5000}
        config = write_config(work, sim, schedule=SCHEDULE, window=window)
        audit = work / "audit.jsonl"
        ruleset = load_rules([RULES_DIR])
        for index in range(trials):
            while len(expected_pairs(sim, ruleset) - set(sim.applied())) < 50:
                sim.add_messages(40)
            seen = kill_trial(sim, config, audit, rng)
            worst = max(worst, seen.missing)
            _log(
                verbose,
                f"kill {index + 1:2d}: {seen.applies} applies so far, {seen.missing} applied"
                f" pairs without an audit line",
            )
        final = run_tagger("once", "-c", str(config), timeout=300)
        end = compare(sim, audit)
        records, _ = read_records([audit])
        applied = Counter((r.message_id, r.rule) for r in records if r.outcome == "applied")
        missing_tags = len(expected_pairs(sim, ruleset) - set(sim.applied()))
        return {
            "kills": trials,
            "applies": end.applies,
            "apply_lines": apply_lines(audit),
            "pairs_without_line_worst": worst,
            "pairs_without_line_end": end.missing,
            "counted_twice": sum(1 for n in applied.values() if n > 1),
            "unresolved_intents": sum(1 for r in records if r.outcome == "applying"),
            "final_exit": final.returncode,
            "missing_tags": missing_tags,
            "applied_twice": len(repeated_applies(sim)),
        }


def disk_part(trials: int, seed: int, verbose: bool) -> dict[str, Any]:
    """Run the full-disk trials (a fresh simulator and state each); returns their figures."""
    rng = random.Random(seed)
    out: dict[str, Any] = {"disk_runs": trials, "stopped_with_reason": 0, "applies": 0}
    worst = 0
    for index in range(trials):
        with (
            tempfile.TemporaryDirectory(prefix="tagger-full-") as tmp,
            Simulator(SimulatorConfig(seed=seed + index, messages=200, latency_ms=5)) as sim,
        ):
            work = Path(tmp)
            config = write_config(work, sim)
            audit = work / "audit.jsonl"
            run = full_disk_run(sim, config, audit, rng.randint(3_000, 40_000))
            said = "cannot write the audit file" in run.output and "File too large" in run.output
            out["stopped_with_reason"] += int(run.returncode != 0 and said)
            out["applies"] += run.compared.applies
            worst = max(worst, run.compared.missing)
            _log(
                verbose,
                f"full disk {index + 1}: exit {run.returncode}, {run.compared.applies} applies"
                f" before it stopped, {run.compared.missing} without an audit line"
                + ("" if said else " (NO REASON GIVEN)"),
            )
    out["pairs_without_line_worst"] = worst
    return out


def intent_cost_ms(count: int = 300) -> float:
    """Return the mean time of one write-ahead record (write and fdatasync) in a temporary file."""
    with tempfile.TemporaryDirectory(prefix="tagger-journal-") as tmp:
        journal = Journal(Path(tmp) / "audit.jsonl")
        record = {"subject": "x" * 500}
        began = time.perf_counter()
        for _ in range(count):
            journal.append(record)
        return (time.perf_counter() - began) / count * 1000


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run both parts, print the figures; 0 when every apply has its line."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=20, help="SIGKILLs (default 20)")
    parser.add_argument("--disk-trials", type=int, default=5, help="full-disk runs (default 5)")
    parser.add_argument("--seed", type=int, default=1, help="RNG seed (default 1)")
    parser.add_argument("--latency-ms", type=float, default=25.0, help="simulated API latency")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line")
    parser.add_argument("--quiet", action="store_true", help="no per-trial lines")
    args = parser.parse_args(argv)
    started = time.monotonic()
    kills = sigkill_part(args.trials, args.seed, args.latency_ms, not args.quiet)
    disk = disk_part(args.disk_trials, args.seed, not args.quiet)
    figures = {
        "sigkill": kills,
        "full_disk": disk,
        "intent_ms": round(intent_cost_ms(), 2),
        "seconds": round(time.monotonic() - started),
    }
    if args.json:
        print(json.dumps(figures), flush=True)
    else:
        print(
            f"write-ahead audit, {args.latency_ms:g} ms per call ({figures['seconds']} s)\n"
            f"  SIGKILL x{kills['kills']}: {kills['applies']} applies reached the simulator,"
            f" {kills['apply_lines']} write-ahead lines; applied pairs without a line: worst"
            f" {kills['pairs_without_line_worst']} after a kill, {kills['pairs_without_line_end']}"
            f" at the end\n"
            f"  report: {kills['counted_twice']} pairs counted twice,"
            f" {kills['unresolved_intents']} intents left unresolved; final run exit"
            f" {kills['final_exit']}, {kills['missing_tags']} tags missing,"
            f" {kills['applied_twice']} applied twice\n"
            f"  full disk x{disk['disk_runs']}: {disk['applies']} applies before the audit file"
            f" ran out of room, {disk['stopped_with_reason']} runs stopped with the reason,"
            f" applied pairs without a line: worst {disk['pairs_without_line_worst']}\n"
            f"  one write-ahead record (write + fdatasync, temporary folder):"
            f" {figures['intent_ms']} ms",
            flush=True,
        )
    bad = (
        kills["pairs_without_line_worst"]
        or kills["pairs_without_line_end"]
        or kills["counted_twice"]
        or kills["missing_tags"]
        or disk["pairs_without_line_worst"]
        or disk["stopped_with_reason"] != disk["disk_runs"]
    )
    return 1 if bad else 0


if __name__ == "__main__":
    raise SystemExit(main())
