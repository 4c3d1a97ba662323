"""Smoke test of ``python -m bench.rules_validate``: it runs small and prints its figures."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_the_rules_validate_bench_prints_seconds_rss_and_ratios() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "bench.rules_validate", "--sizes", "20", "60"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert any(line.strip().startswith("20 rules") and "peak RSS" in line for line in lines)
    assert any(line.strip().startswith("60 rules") and " s " in line for line in lines)
    assert any(line.startswith("size x3.0: time x") for line in lines), done.stdout
