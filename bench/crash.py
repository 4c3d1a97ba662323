"""Crash consistency: SIGKILL a live daemon at seeded random moments, restart it, check.

Runs the simulator in this process (with latency, so kills land while applies
are in flight) and ``tagger run`` as a real child process. Each trial adds new
mail when too little work is left, starts the daemon, waits for it to make
progress (the simulator's apply counter, or the ``daemon_started`` log line),
kills it with SIGKILL at a point drawn from the seeded RNG, and then checks:

- the state file passes ``PRAGMA integrity_check``;
- no query's watermark is ahead of a message it has not fully processed
  (every message a query matches that was received before its watermark is
  marked processed or set aside);
- which (message, tag) pairs the simulator applied that the state does not
  record: the kill landed between an apply and its state commit ("mid-apply").

Kill points rotate through three kinds: ``apply`` (after a random number of
applies, plus a random delay), ``state-write`` (the moment the daemon's thread
is inside a write or fsync on the state file, seen through
``/proc/PID/task/*/syscall``) and ``startup`` (a random delay after start).
After the trials one clean ``tagger once`` finishes the work, and the
simulator's tags are compared with the expected set computed from the mailbox
by the rule evaluator alone. Prints the figures; exits 1 if any tag is missing
or extra, the state was corrupt, a watermark ran ahead or the final run failed
(duplicate apply calls are reported; ``--strict`` makes them fail too).

    .venv/bin/python -m bench.crash --trials 20 --seed 1

``--loop`` measures progress under a crash loop instead (:mod:`bench.crash_loop`):
the daemon killed every 0.4-3 s, ``--kills`` times.

    .venv/bin/python -m bench.crash --loop --kills 34 --messages 500 --seed 1
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import signal
import sqlite3
import sys
import tempfile
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from bench import crash_loop
from tagger.rules import RuleSet, load_rules
from tagger.simulator import Simulator, SimulatorConfig
from tagger.simulator.search import matches, parse_query
from testkit import RULES_DIR
from testkit.expected import expected_pairs
from testkit.processes import Running, run_tagger, wait_until
from testkit.quiesce import settle
from testkit.setup import SUMMARY_ONLY_RULE, write_config

ACCOUNT = "demo"
PHASES = ("apply", "state-write", "startup")
# x86-64 system calls that write a file or flush it to disk.
WRITE_SYSCALLS = {1: "write", 18: "pwrite64", 20: "writev", 74: "fsync", 75: "fdatasync"}


@dataclass
class Trial:
    """What one kill did and what was found afterwards."""

    index: int
    phase: str
    pid: int
    applies_before: int
    applies_at_kill: int
    applies_after: int
    syscall_at_kill: str | None
    unrecorded_pairs: int
    integrity: str
    watermark_violations: int
    exited_early: bool

    @property
    def mid_apply(self) -> bool:
        """True when an apply had been made (or was in flight) that the state did not record."""
        return self.unrecorded_pairs > 0 or self.applies_after > self.applies_at_kill

    @property
    def mid_state_write(self) -> bool:
        """True when the daemon was inside a write or fsync of the state file when killed."""
        return self.syscall_at_kill is not None


@dataclass
class Outcome:
    """The figures of one harness run."""

    seed: int
    trials: list[Trial] = field(default_factory=list)
    expected: int = 0
    applied: int = 0
    missing: int = 0
    extra: int = 0
    duplicate_calls: int = 0
    duplicate_pairs: int = 0
    final_exit: int | None = None
    messages: int = 0
    seconds: float = 0.0

    @property
    def corrupt(self) -> int:
        """Return the number of kills after which the state file failed its integrity check."""
        return sum(1 for t in self.trials if t.integrity != "ok")

    @property
    def watermark_violations(self) -> int:
        """Return the watermark violations summed over every kill."""
        return sum(t.watermark_violations for t in self.trials)

    def ok(self, strict: bool) -> bool:
        """True when nothing was lost, extra, corrupt or ahead (and no duplicates if strict)."""
        clean = (
            self.missing == 0
            and self.extra == 0
            and self.corrupt == 0
            and self.watermark_violations == 0
            and self.final_exit == 0
            and not any(t.exited_early for t in self.trials)
        )
        return clean and (not strict or self.duplicate_calls == 0)

    def to_json(self) -> dict[str, Any]:
        """Return the figures as JSON-ready data (per-trial details included)."""
        return {
            "seed": self.seed,
            "trials": len(self.trials),
            "kills_mid_apply": sum(t.mid_apply for t in self.trials),
            "kills_mid_state_write": sum(t.mid_state_write for t in self.trials),
            "unrecorded_pairs_at_kill": sum(t.unrecorded_pairs for t in self.trials),
            "corrupt": self.corrupt,
            "watermark_violations": self.watermark_violations,
            "messages": self.messages,
            "expected": self.expected,
            "applied": self.applied,
            "missing": self.missing,
            "extra": self.extra,
            "duplicate_calls": self.duplicate_calls,
            "duplicate_pairs": self.duplicate_pairs,
            "final_exit": self.final_exit,
            "seconds": round(self.seconds, 1),
            "details": [asdict(t) | {"mid_apply": t.mid_apply} for t in self.trials],
        }


def apply_calls(sim: Simulator) -> int:
    """Return the number of successful apply calls the simulator has executed."""
    return sum(sim.applied().values())


def state_syscall(pid: int, files: set[str]) -> str | None:
    """Return ``"fsync state.db-wal"`` when a thread of ``pid`` is writing a state file.

    Reads ``/proc/PID/task/TID/syscall``: the number of the system call a
    thread is blocked in and its arguments (the first is the file descriptor).
    """
    try:
        tids = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return None
    for tid in tids:
        try:
            with open(f"/proc/{pid}/task/{tid}/syscall", encoding="ascii") as fh:
                parts = fh.read().split()
        except OSError:
            continue
        if len(parts) < 2 or not parts[0].isdigit() or int(parts[0]) not in WRITE_SYSCALLS:
            continue
        try:
            target = os.readlink(f"/proc/{pid}/fd/{int(parts[1], 16)}")
        except (OSError, ValueError):
            continue
        if target in files:
            return f"{WRITE_SYSCALLS[int(parts[0])]} {Path(target).name}"
    return None


def catch_state_write(pid: int, state: Path, timeout: float) -> str | None:
    """Poll until a thread of ``pid`` is writing the state file; return what it does, or None."""
    files = {str(state), f"{state}-wal", f"{state}-journal", f"{state}-shm"}
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = state_syscall(pid, files)
        if found is not None:
            return found
    return None


def recorded_pairs(state: Path) -> set[tuple[str, str]]:
    """Return the (message, tag) pairs the state file records as applied."""
    with _read_only(state) as conn:
        rows = conn.execute(
            "SELECT message_id, tag_id FROM applied WHERE account = ?", (ACCOUNT,)
        ).fetchall()
    return {(str(m), str(t)) for m, t in rows}


def integrity(state: Path) -> str:
    """Return SQLite's integrity report of the state file (``ok`` when sound)."""
    if not state.exists():
        return "ok"  # killed before the file was created: nothing to lose yet
    try:
        with _read_only(state) as conn:
            rows = conn.execute("PRAGMA integrity_check").fetchall()
    except sqlite3.Error as exc:
        return f"cannot open: {exc}"
    return "\n".join(str(r[0]) for r in rows)


def watermark_violations(state: Path, sim: Simulator, ruleset: RuleSet) -> int:
    """Count messages received before their query's watermark that are not processed.

    For each saved watermark, every mailbox message the query's criteria match
    and received strictly before the watermark must be marked processed for
    that query (or set aside): otherwise the next cycle, which starts at the
    watermark minus the overlap, could miss it for good.
    """
    if not state.exists():
        return 0
    with _read_only(state) as conn:
        marks = conn.execute(
            "SELECT query_key, value FROM watermarks WHERE account = ?", (ACCOUNT,)
        ).fetchall()
        processed = conn.execute("SELECT ruleset_hash, message_id FROM processed").fetchall()
        aside = {
            str(r[0])
            for r in conn.execute("SELECT message_id FROM failures WHERE set_aside_at IS NOT NULL")
        }
    queries = {q.key: q for q in ruleset.queries}
    messages = sim.messages()
    bad = 0
    for key, value in marks:
        query = queries.get(str(key))
        if query is None:
            continue
        mark = int(value) / 1_000_000
        done = {str(m) for h, m in processed if h == ruleset.query_mark(query.key)}
        criteria = parse_query(query.criteria.to_request(None, datetime.now(UTC)))
        for m in messages:
            if m.received >= mark:
                break
            if m.id not in done and m.id not in aside and matches(criteria, m):
                bad += 1
    return bad


def _read_only(path: Path) -> contextlib.closing[sqlite3.Connection]:
    """Open the state file read-only (no lock needed: the daemon is dead)."""
    return contextlib.closing(sqlite3.connect(f"file:{path}?mode=ro", uri=True, timeout=10))


def ensure_work(sim: Simulator, ruleset: RuleSet, minimum: int) -> int:
    """Add mail until at least ``minimum`` expected tags are not applied yet; return how many."""
    for _ in range(50):
        remaining = len(expected_pairs(sim, ruleset) - set(sim.applied()))
        if remaining >= minimum:
            return remaining
        sim.add_messages(40)
    raise RuntimeError("could not create enough work: the rules match too little mail")


def kill_trial(
    index: int,
    phase: str,
    rng: random.Random,
    sim: Simulator,
    ruleset: RuleSet,
    config: Path,
    state: Path,
    quiet_s: float,
    log: Callable[[str], None],
) -> Trial:
    """Start the daemon, kill it at a seeded point of ``phase``, and inspect what it left."""
    remaining = ensure_work(sim, ruleset, minimum=12)
    before_calls = sim.applied()
    before = sum(before_calls.values())
    target = before + rng.randint(1, max(1, remaining * 2 // 3))
    daemon = Running("run", "-c", str(config))
    syscall: str | None = None
    exited = False
    try:
        if phase == "startup":
            daemon.wait_event("daemon_started", timeout=30)
            _spin(rng.uniform(0.1, 1.2))
        else:

            def progressed() -> bool:
                return apply_calls(sim) >= target or daemon.proc.poll() is not None

            wait_until(progressed, 60, f"{target - before} applies")
            if phase == "apply":
                _spin(rng.uniform(0.0, 0.12))
            else:
                syscall = catch_state_write(daemon.pid, state, timeout=5)
        at_kill = apply_calls(sim)
        exited = daemon.proc.poll() is not None
        daemon.proc.send_signal(signal.SIGKILL)
        daemon.wait(timeout=30)
    finally:
        if daemon.proc.poll() is None:
            daemon.proc.kill()
            daemon.wait(timeout=30)
    settle(sim, quiet_s)
    after = apply_calls(sim)
    touched = {p for p, n in sim.applied().items() if n > before_calls.get(p, 0)}
    unrecorded = touched - recorded_pairs(state) if state.exists() else touched
    trial = Trial(
        index=index,
        phase=phase,
        pid=daemon.pid,
        applies_before=before,
        applies_at_kill=at_kill,
        applies_after=after,
        syscall_at_kill=syscall,
        unrecorded_pairs=len(unrecorded),
        integrity=integrity(state),
        watermark_violations=watermark_violations(state, sim, ruleset),
        exited_early=exited,
    )
    log(
        f"trial {index:3d} {phase:<11} applies {before}->{at_kill}->{after}"
        f"  unrecorded {trial.unrecorded_pairs}  syscall {syscall or '-'}"
        f"  integrity {trial.integrity}  watermark violations {trial.watermark_violations}"
        + ("  EXITED BEFORE KILL" if exited else "")
    )
    return trial


def _spin(seconds: float) -> None:
    """Busy-wait ``seconds`` (finer than sleep's granularity; used only to vary kill points)."""
    end = time.monotonic() + seconds
    while time.monotonic() < end:
        pass


def run(
    trials: int, seed: int, messages: int, latency_ms: float, log: Callable[[str], None]
) -> Outcome:
    """Run the whole harness; returns its figures."""
    started = time.monotonic()
    rng = random.Random(seed)
    outcome = Outcome(seed=seed)
    jitter = latency_ms
    config_sim = SimulatorConfig(
        seed=seed, messages=messages, latency_ms=latency_ms, latency_jitter_ms=jitter
    )
    quiet_s = (latency_ms + jitter) / 1000.0 + 0.15
    with tempfile.TemporaryDirectory(prefix="tagger-crash-") as tmp, Simulator(config_sim) as sim:
        work = Path(tmp)
        probe = work / "summary-only.yaml"
        probe.write_text(SUMMARY_ONLY_RULE, encoding="utf-8")
        rules = [RULES_DIR / "*.yaml", probe]
        ruleset = load_rules([RULES_DIR, probe])
        schedule = {"interval": "1s", "jitter": "0s", "misfire_grace": "1m"}
        config = write_config(
            work, sim, rules=rules, schedule=schedule, logging={"format": "json", "level": "info"}
        )
        state = work / "state.db"
        for index in range(trials):
            phase = PHASES[index % len(PHASES)]
            trial = kill_trial(index, phase, rng, sim, ruleset, config, state, quiet_s, log)
            outcome.trials.append(trial)
        final = run_tagger("once", "-c", str(config), timeout=300)
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
        outcome.duplicate_pairs = sum(1 for n in calls.values() if n > 1)
    outcome.seconds = time.monotonic() - started
    return outcome


def report(outcome: Outcome) -> str:
    """Return the human summary of a harness run."""
    data = outcome.to_json()
    return "\n".join(
        [
            f"crash trials: {data['trials']} SIGKILLs (seed {outcome.seed}),"
            f" {data['kills_mid_apply']} mid-apply, {data['kills_mid_state_write']}"
            f" mid-state-write; {data['unrecorded_pairs_at_kill']} applied pairs"
            " unrecorded at a kill",
            f"state after each kill: {data['trials'] - data['corrupt']}/{data['trials']}"
            f" integrity ok, {data['watermark_violations']} watermark violations",
            f"tags: {data['expected']} expected over {data['messages']} messages,"
            f" {data['applied']} applied, {data['missing']} missing, {data['extra']} extra",
            f"duplicate apply calls: {data['duplicate_calls']}"
            f" (on {data['duplicate_pairs']} pairs)",
            f"final clean run exit code: {data['final_exit']}; time {data['seconds']} s",
        ]
    )


def main(argv: list[str] | None = None) -> int:
    """Parse arguments, run the harness, print the figures; 0 when nothing was lost."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--trials", type=int, default=20, help="number of SIGKILLs (default 20)")
    parser.add_argument("--seed", type=int, default=1, help="RNG seed (default 1)")
    parser.add_argument("--messages", type=int, default=300, help="initial mailbox size")
    parser.add_argument("--latency-ms", type=float, default=25.0, help="simulated API latency")
    parser.add_argument("--json", action="store_true", help="print the figures as one JSON line")
    parser.add_argument("--quiet", action="store_true", help="no per-trial lines")
    parser.add_argument("--strict", action="store_true", help="fail on duplicate apply calls too")
    parser.add_argument(
        "--loop", action="store_true", help="a crash loop: kill every 0.4-3 s (bench.crash_loop)"
    )
    parser.add_argument("--kills", type=int, default=34, help="--loop: SIGKILLs (default 34)")
    parser.add_argument("--min-s", type=float, default=0.4, help="--loop: earliest kill (s)")
    parser.add_argument("--max-s", type=float, default=3.0, help="--loop: latest kill (s)")
    args = parser.parse_args(argv)
    if args.trials < 1:
        parser.error("--trials must be at least 1")

    def log(line: str) -> None:
        if not args.quiet:
            print(line, file=sys.stderr, flush=True)

    if args.loop:
        figures = crash_loop.run_loop(
            args.kills, args.seed, args.messages, args.latency_ms, args.min_s, args.max_s, log
        )
        out = json.dumps(figures.to_json()) if args.json else crash_loop.report(figures)
        print(out, flush=True)
        return 0 if figures.ok() else 1
    outcome = run(args.trials, args.seed, args.messages, args.latency_ms, log)
    print(json.dumps(outcome.to_json()) if args.json else report(outcome), flush=True)
    return 0 if outcome.ok(args.strict) else 1


if __name__ == "__main__":
    raise SystemExit(main())
