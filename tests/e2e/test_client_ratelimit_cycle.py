"""A tagger process under a tight rate limit applies every tag with few 429s."""

from __future__ import annotations

from pathlib import Path

from tagger.simulator import Simulator, SimulatorConfig
from tagger.simulator.config import ENDPOINTS
from tests.support.client import watch
from tests.support.daemon import applied_pairs, expected_pairs, run_tagger, write_config

__all__ = ["watch"]  # the fixture that fails a test on a leaked secret


def test_a_cycle_under_a_tight_limit_applies_every_tag_with_few_429s(tmp_path: Path) -> None:
    limits = {endpoint: (10, 1.0) for endpoint in ENDPOINTS}
    with Simulator(SimulatorConfig(seed=11, messages=60, rate_limits=limits)) as sim:
        done = run_tagger("once", "-c", str(write_config(tmp_path, sim)))
        assert done.returncode == 0, done.stderr
        expected = expected_pairs(sim)
        assert expected and applied_pairs(sim) == expected
        stats = sim.stats()
    calls = sum(int(v["total"]) for v in stats["endpoints"].values())
    # Unpaced, about 70 of these calls would be refused (a bucket of 10 at 1/s). A
    # busy machine can still get the odd call in flight refused as the bucket
    # empties: the 2% goal is the benchmark's figure (bench/ratelimit.py), not this.
    assert stats["throttled_total"] <= max(4, calls // 20), stats["throttled"]
