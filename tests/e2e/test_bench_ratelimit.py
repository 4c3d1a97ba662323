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
def test_ratelimit_bench_prints_429_share_one_pass_and_rate_ratio() -> None:
    args = ["--messages", "40", "--rate", "40", "--no-targets"]
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
    assert re.search(r"calls answered 429: \d+ of \d+ \([\d.]+%\)", out), out
    assert re.search(r"all work done in one pass: (yes|no) \(\d+ tags applied, \d+ expected", out)
    assert re.search(r"ratio to the allowed rate: [\d.]+", out), out
