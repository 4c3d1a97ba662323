"""A backfill reaching further back than the tracking data warns (a tagger process)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tagger.simulator import Simulator, SimulatorConfig
from tests.support.daemon import run_tagger, write_config


@pytest.mark.parametrize(("days", "warned"), [(45, True), (20, False)])
def test_backfill_older_than_the_tracking_data_warns(
    tmp_path: Path, days: int, warned: bool
) -> None:
    with Simulator(SimulatorConfig(seed=3, messages=20)) as sim:
        cfg = str(write_config(tmp_path, sim))
        since = datetime.now(UTC) - timedelta(days=days)
        done = run_tagger(
            "backfill", "-c", cfg, "--since", f"{since:%Y-%m-%dT%H:%M:%SZ}", "--slice", "60d"
        )
        assert done.returncode == 0, done.stderr
        lines = [line for line in done.stderr.splitlines() if "will return nothing" in line]
        if warned:
            assert any(line.startswith("warning: --since") for line in lines), done.stderr
            assert any("backfill_beyond_tracking_data" in line for line in lines), done.stderr
        else:
            assert lines == []
