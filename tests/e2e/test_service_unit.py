"""The shipped systemd unit: required settings present, and `systemd-analyze verify` clean."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).resolve().parents[2] / "systemd" / "tagger.service"


@pytest.mark.skipif(shutil.which("systemd-analyze") is None, reason="no systemd-analyze")
def test_systemd_analyze_verify(tmp_path: Path) -> None:
    # verify insists that ExecStart exists: point it at this environment's entry point.
    entry = Path(sys.executable).with_name("tagger")
    if not entry.exists():
        pytest.skip("tagger entry point not installed next to the interpreter")
    unit = tmp_path / "tagger.service"
    unit.write_text(UNIT.read_text().replace("/usr/local/bin/tagger", str(entry)))
    done = subprocess.run(
        ["systemd-analyze", "verify", "--man=no", str(unit)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    problems = [line for line in done.stderr.splitlines() if "tagger.service" in line]
    assert done.returncode == 0, done.stderr
    assert problems == []
