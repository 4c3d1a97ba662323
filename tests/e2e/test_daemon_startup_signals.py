"""Signals during start-up: the handlers are in place before the token is fetched.

The simulator's token endpoint hangs (every token request is held for 30 s),
so ``tagger run`` and ``tagger once`` are still starting up when the signals
arrive: a SIGHUP must not kill the daemon, and a SIGTERM must stop either
command cleanly.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tagger import exitcodes
from tagger.simulator import FaultConfig, Simulator, SimulatorConfig
from tests.support.daemon import Running, wait_until, write_config

pytestmark = pytest.mark.slow

HANGING_TOKEN = FaultConfig(slow=1.0, slow_ms=30_000, include_token=True)


@pytest.fixture
def sim() -> Iterator[Simulator]:
    with Simulator(SimulatorConfig(port=0, seed=3, messages=20, faults=HANGING_TOKEN)) as s:
        yield s


def token_hangs(sim: Simulator) -> bool:
    return int(sim.stats()["faults"].get("slow", 0)) >= 1


def test_sighup_during_startup_is_kept_and_sigterm_then_stops_the_daemon(
    tmp_path: Path, sim: Simulator
) -> None:
    config = write_config(tmp_path, sim)
    proc = Running("run", "-c", str(config))
    try:
        wait_until(lambda: token_hangs(sim), 10, "the token request to hang")
        proc.signal(signal.SIGHUP)
        proc.wait_event("reload_requested", timeout=10)
        assert proc.proc.poll() is None, proc.stderr[-2000:]
        proc.signal(signal.SIGTERM)
        code = proc.wait(timeout=20)
    finally:
        proc.stop()
    assert code == exitcodes.OK, proc.stderr[-2000:]
    assert proc.named("stop_requested")
    assert proc.named("daemon_stopped")
    assert "Traceback" not in proc.stderr


def test_sigterm_during_startup_stops_once_with_work_left(tmp_path: Path, sim: Simulator) -> None:
    config = write_config(tmp_path, sim)
    proc = Running("once", "-c", str(config))
    try:
        wait_until(lambda: token_hangs(sim), 10, "the token request to hang")
        proc.signal(signal.SIGTERM)
        code = proc.wait(timeout=20)
    finally:
        proc.stop()
    assert code == exitcodes.INCOMPLETE, proc.stderr[-2000:]
    assert "stopped before the cycle started" in proc.stderr
    assert "Traceback" not in proc.stderr
    assert sim.applied() == {}
