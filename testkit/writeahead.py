"""The audit file as a write-ahead record, checked against what reached the simulator.

Every (message, tag) pair the simulator applied must have a line in the audit
file that names it: the apply's write-ahead record (``outcome: applying``) or
its entry (``outcome: applied``), whatever happened to the process after the
request went out. Shared by the suite (a few trials) and
``bench.audit_crash`` (the figures):

- :func:`kill_trial`: start ``tagger run``, SIGKILL it after a drawn number of
  applies plus a drawn delay, and compare;
- :func:`full_disk_run`: ``tagger once`` under a file size limit that the
  audit file reaches part-way through the cycle (as a full disk would), and
  compare.
"""

from __future__ import annotations

import contextlib
import json
import os
import random
import resource
import signal
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from tagger.simulator import Simulator
from testkit import ROOT
from testkit.processes import TAGGER, Running, tagger_env, wait_until
from testkit.quiesce import settle

Pair = tuple[str, str]


def audit_pairs(path: Path) -> set[Pair]:
    """Return the (message, tag id) pairs an apply line of the audit file (or its copies) names.

    Apply lines are write-ahead records (``applying``) and ``applied``
    entries; lines that are not JSON objects (a torn line, filler) are skipped.
    """
    out: set[Pair] = set()
    files = [path, *sorted(path.parent.glob(f"{path.name}.[0-9]*"))]
    for file in files:
        if not file.exists():
            continue
        for line in file.read_bytes().split(b"\n"):
            with contextlib.suppress(ValueError):
                record = json.loads(line)
                if isinstance(record, dict) and record.get("outcome") in ("applying", "applied"):
                    out.update((record["message_id"], t) for t in record["planned_tag_ids"])
    return out


def apply_lines(path: Path) -> int:
    """Return how many lines of the audit file are write-ahead records of applies."""
    if not path.exists():
        return 0
    return sum(1 for line in path.read_bytes().split(b"\n") if b'"record": "intent"' in line)


@dataclass(frozen=True)
class Compared:
    """What reached the simulator against what the audit file names."""

    applies: int  # apply calls the simulator executed
    pairs: int  # distinct (message, tag) pairs it applied
    missing: int  # of those, pairs no apply line of the audit file names


def compare(sim: Simulator, audit: Path) -> Compared:
    """Return the simulator's applies against the audit file's apply lines."""
    calls = sim.applied()
    applied = set(calls)
    return Compared(sum(calls.values()), len(applied), len(applied - audit_pairs(audit)))


def kill_trial(sim: Simulator, config: Path, audit: Path, rng: random.Random) -> Compared:
    """Start ``tagger run``, SIGKILL it at a drawn point while it applies, and compare.

    The point is 1 to 40 applies after the start, plus up to 0.2 s: the
    caller leaves more than 40 applies to make.
    """
    before = sum(sim.applied().values())
    target = before + rng.randint(1, 40)
    daemon = Running("run", "-c", str(config))
    try:
        wait_until(
            lambda: sum(sim.applied().values()) >= target or daemon.proc.poll() is not None,
            60,
            "applies",
        )
        end = time.monotonic() + rng.uniform(0.0, 0.2)
        while time.monotonic() < end:
            pass
        daemon.proc.send_signal(signal.SIGKILL)
        daemon.wait(timeout=30)
    finally:
        if daemon.proc.poll() is None:
            daemon.proc.kill()
            daemon.wait(timeout=30)
    settle(sim)
    return compare(sim, audit)


def _limit_file_size(limit: int) -> None:
    resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


@dataclass(frozen=True)
class FullDisk:
    """One ``tagger once`` whose audit file ran out of room part-way."""

    compared: Compared
    returncode: int
    output: str


def full_disk_run(sim: Simulator, config: Path, audit: Path, room: int) -> FullDisk:
    """Run ``tagger once`` with ``room`` bytes left before the audit file's size limit.

    The audit file is first extended (sparse, so it takes no disk: one
    filler line) to a 16 MiB size limit less ``room``; the limit applies to every file the
    process writes, and the state file stays far below it.
    """
    limit = 16 * 1024 * 1024
    audit.touch()
    os.truncate(audit, limit - room - 1)
    with audit.open("ab") as out:
        out.write(b"\n")  # the filler ends as a whole line, as every line tagger writes
    done = subprocess.run(  # noqa: S603 - this interpreter, our arguments
        [*TAGGER, "once", "-c", str(config)],
        env=tagger_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
        preexec_fn=lambda: _limit_file_size(limit),
    )
    settle(sim)
    return FullDisk(compare(sim, audit), done.returncode, done.stdout + done.stderr)
