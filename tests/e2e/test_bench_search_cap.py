"""The search-cap benchmark runs small, prints its figures and checks itself."""

from __future__ import annotations

import re
import subprocess
import sys

import pytest

from tests.support.daemon import ROOT


@pytest.mark.timeout(120)
def test_the_search_cap_bench_prints_its_figures_and_checks_itself() -> None:
    args = ["--caps", "40,0", "--modes", "random", "--messages", "200", "--cycles", "2"]
    done = subprocess.run(
        [sys.executable, "-m", "bench.search_cap", *args, "--no-targets"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=110,
        check=False,
    )
    out = done.stdout
    assert done.returncode == 0, f"{out}\n{done.stderr}"
    # Found equals present and no tag missed, per server; the extra calls are printed.
    assert re.search(r"^ +40 +random +(\d+)/\1 +0 +\d+ +\d+ +[-+]\d+%", out, re.M), out
    assert re.search(r"^ +none +- +(\d+)/\1 +0 ", out, re.M), out
    assert re.search(r"normal run .* extra -?[\d.]+%", out), out
    assert "completeness: ok" in out, out
