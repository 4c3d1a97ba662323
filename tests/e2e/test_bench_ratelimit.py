"""The rate-limit benchmark runs end to end in a small configuration and prints its figures.

Figures are not asserted (the targets belong to the benchmark's own exit
status); what is asserted is that it completes and prints each figure.
"""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.timeout(90)
@pytest.mark.parametrize("mode", ["leaky-zero", "bare"])
def test_ratelimit_bench_prints_a_row_of_figures(mode: str) -> None:
    args = ["--messages", "40", "--rate", "40", "--mode", mode, "--no-targets"]
    done = subprocess.run(
        [sys.executable, "-m", "bench.ratelimit", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=80,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 0, f"{out}\n{done.stderr}"
    row = re.search(
        rf"\| {mode} +\| +40/s \| +40 \| +[\d.]+ s \| +[\d.]+ s \| +[\d.]+ \|"
        r" +[\d.]+% \| +(\d+|>\d+) \| +\d+ \| +\d+ \| +[\d.]+ \|",
        out,
    )
    assert row, out
    assert "every target was met" in out or "targets missed" in out
