"""A backfill without --until, SIGKILLed and started again, resumes and applies nothing twice."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.timeout(200)
def test_sigkilled_open_ended_backfill_resumes_and_applies_nothing_twice() -> None:
    cmd = [sys.executable, "-m", "bench.crash_backfill", "--trials", "5"]
    done = subprocess.run(
        [*cmd, "--seed", "3", "--json", "--quiet", "--messages", "400"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=190,
        check=False,
    )
    assert done.stdout.strip(), done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    details = json.dumps(figures["details"], indent=1)
    assert figures["trials"] == 5
    assert figures["kills_mid_run"] >= 3, details
    # Started again, the same command picks up the saved job instead of starting over.
    assert figures["resumed_starts"] >= 1, details
    assert figures["corrupt"] == 0, details
    assert figures["final_exit"] == 0, done.stderr[-3000:]
    assert figures["expected"] > 0
    assert figures["missing"] == 0
    assert figures["extra"] == 0
    assert figures["duplicate_calls"] == 0, details
    assert done.returncode == 0, done.stderr[-3000:]
