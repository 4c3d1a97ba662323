"""bench.lists runs end to end in a small configuration and prints every figure the README quotes.

Figures are not asserted (timing belongs to the benchmark); the script's own
check (in_list and the pasted domains agree on every sampled message) makes
it exit non-zero when it fails.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(300)
def test_lists_bench_prints_rates_with_and_without_lists() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.lists", "--entries", "3000", "--messages", "400"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=280,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 0, out + done.stderr
    assert re.search(r"3 domain lists x 3,000 entries, 400 messages \(\d+% with a listed", out)
    assert re.search(r"lists read and compiled in \d+ ms \([\d,]+ entries/s\)", out), out
    assert re.search(r"one list keeps [\d.]+ MiB", out), out
    assert re.search(r"without lists: 100 rules, [\d,]+ evaluations/s", out), out
    assert re.search(r"with lists: +110 rules, [\d,]+ evaluations/s", out), out
    assert re.search(r"ratio with/without lists \(per evaluation\): [\d.]+", out), out
    assert re.search(r"the 10 list rules' tests alone: [\d,]+ evaluations/s", out), out
    assert "outcomes that disagree: 0" in out, out
