"""Crash consistency: the bench harness, with fewer SIGKILLs, proves nothing lost or repeated."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
@pytest.mark.timeout(110)
def test_sigkilled_daemon_loses_nothing_and_applies_nothing_twice() -> None:
    cmd = [sys.executable, "-m", "bench.crash", "--trials", "5", "--seed", "7"]
    done = subprocess.run(
        [*cmd, "--json", "--quiet", "--strict", "--messages", "200"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=100,
        check=False,
    )
    assert done.stdout.strip(), done.stderr[-3000:]
    figures = json.loads(done.stdout.strip().splitlines()[-1])
    details = json.dumps(figures["details"], indent=1)
    assert figures["trials"] == 5
    # The kills hit the daemon while it worked, not only between cycles.
    assert figures["kills_mid_apply"] + figures["kills_mid_state_write"] >= 2, details
    assert figures["unrecorded_pairs_at_kill"] >= 1, details
    assert figures["corrupt"] == 0, details
    assert figures["watermark_violations"] == 0, details
    assert figures["final_exit"] == 0, done.stderr[-3000:]
    assert figures["expected"] > 0
    assert figures["missing"] == 0
    assert figures["extra"] == 0
    assert figures["duplicate_calls"] == 0, details
    assert done.returncode == 0, done.stderr[-3000:]
