"""`tagger status` shows each endpoint's quota use, from a real daemon's cycle.

The daemon (a real process) runs two cycles against a simulator on 127.0.0.1
whose every endpoint is a bucket of 10 refilled at 10/s, its headers read as
the leaky bucket they are or not sent at all (bare 429s); ``status`` then
reads the note the daemon left beside the state file.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tagger.simulator import Simulator, SimulatorConfig
from tagger.simulator.config import ENDPOINTS
from tests.support.daemon import run_tagger, write_config

INFO = "/api/message-finder/get-message-info"
QUOTA = {endpoint: (10, 1.0) for endpoint in ENDPOINTS}  # 10 in the bucket, 10/s back


@pytest.mark.parametrize("mode", ["leaky", "bare"])
def test_status_shows_the_accepted_rate_429s_and_refill_of_each_endpoint(
    tmp_path: Path, mode: str
) -> None:
    config = SimulatorConfig(seed=61, messages=80, rate_limits=QUOTA, rate_limit_mode=mode)
    with Simulator(config) as sim:
        cfg = str(write_config(tmp_path, sim))
        done = run_tagger("run", "-c", cfg, "--max-cycles", "2")
        assert done.returncode == 0, done.stderr
        stats = sim.stats()
        throttled = stats["throttled_total"]
    # The Smart Tags are listed once when the daemon starts, not once a cycle.
    assert stats["endpoints"]["list"]["by_status"] == {"200": 1}
    status = run_tagger("status", "-c", cfg, "--json")
    assert status.returncode in (0, 1), status.stderr
    (account,) = json.loads(status.stdout)["accounts"].values()
    info = next(e for e in account["quota"] if e["endpoint"] == INFO)
    assert info["answered_total"] > 10
    # The figures are the last cycle's: it searched again, and read no info (all judged).
    search = next(e for e in account["quota"] if e["endpoint"].endswith("/search"))
    assert search["accepted_per_s"] > 0 and info["accepted_per_s"] == 0
    assert sum(e["throttled_total"] for e in account["quota"]) == throttled
    # The refill the client paces to is shown. Read from the leaky bucket's headers
    # it is the server's 10/s; observed behind bare 429s it depends on the
    # machine's timing, so only its presence is checked (bench/ratelimit.py
    # measures how well it is learned).
    assert info["refill_per_s"] is not None and info["refill_per_s"] > 0
    if mode == "leaky":
        assert 9.0 <= info["refill_per_s"] <= 11.0
    text = run_tagger("status", "-c", cfg)
    assert text.returncode in (0, 1), text.stderr
    assert f"{INFO}: " in text.stdout and "calls/s accepted" in text.stdout
