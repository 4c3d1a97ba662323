"""``tagger pause --all`` against a live daemon mid-apply: no apply lands after it returns.

Real processes: the simulator on 127.0.0.1 with 40 ms per call (so applies
are always in flight), ``tagger run`` and ``tagger pause``; the simulator's
apply counter is sampled from a thread (:mod:`testkit.killswitch`). The
benchmark (``python -m bench.killswitch``) runs the same trial 20 times.
"""

from __future__ import annotations

import random
import signal
import time
from pathlib import Path

import pytest

from tagger.rules import load_rules
from tagger.simulator import Simulator, SimulatorConfig
from testkit.killswitch import ensure_work, pause_trial
from tests.support.daemon import (
    RULES_DIR,
    Running,
    expected_pairs,
    repeated_applies,
    run_tagger,
    wait_until,
    write_config,
)

SCHEDULE = {"interval": "1s", "jitter": "0s", "misfire_grace": "1m", "max_cycle": "1m"}


@pytest.mark.timeout(300)
def test_pause_all_returns_only_once_the_running_daemon_has_stopped_applying(
    tmp_path: Path,
) -> None:
    rng = random.Random(7)
    with Simulator(SimulatorConfig(seed=17, messages=400, latency_ms=40)) as sim:
        cfg = str(write_config(tmp_path, sim, schedule=SCHEDULE))
        ruleset = load_rules([RULES_DIR])

        def remaining() -> int:
            return len(expected_pairs(sim, ruleset) - set(sim.applied()))

        ensure_work(sim, 900, remaining)
        daemon = Running("run", "-c", cfg)
        trials = []
        try:
            for _ in range(3):
                trials.append(pause_trial(sim, cfg, rng))
        finally:
            daemon.stop()
        for trial in trials:
            assert trial.returncode == 0, trial.output
            assert "confirmed it in" in trial.output
            assert trial.late == 0, f"{trial.late} applies landed after the command returned"
        # Not vacuous: the switch went on while the daemon was applying.
        assert any(t.mid_apply for t in trials)
        assert repeated_applies(sim) == {}
        assert daemon.named("stop_acknowledged")


def test_pause_all_with_no_tagger_running_says_so_and_succeeds(tmp_path: Path) -> None:
    with Simulator(SimulatorConfig(seed=3, messages=10)) as sim:
        cfg = str(write_config(tmp_path, sim))
        done = run_tagger("pause", "--all", "-c", cfg)
    assert done.returncode == 0, done.stderr
    assert "no tagger process has the state open" in done.stdout


def test_pause_all_says_it_could_not_confirm_when_the_daemon_does_not_answer(
    tmp_path: Path,
) -> None:
    with Simulator(SimulatorConfig(seed=5, messages=60)) as sim:
        cfg = str(write_config(tmp_path, sim, schedule=SCHEDULE))
        daemon = Running("run", "-c", cfg)
        try:
            daemon.wait_event("cycle_finished", 1, timeout=60)
            daemon.proc.send_signal(signal.SIGSTOP)
            try:
                began = time.monotonic()
                done = run_tagger("pause", "--all", "--wait", "1", "-c", cfg)
                took = time.monotonic() - began
            finally:
                daemon.proc.send_signal(signal.SIGCONT)
            assert done.returncode == 1, done.stdout
            assert "could not confirm within 1 s" in done.stderr
            assert f"pid {daemon.pid}" in done.stderr
            assert "The switch is stored" in done.stderr
            assert took < 30
            # Once it runs again it answers, and applies nothing from then on.
            wait_until(lambda: bool(daemon.named("stop_acknowledged")), 10, "the acknowledgement")
            again = run_tagger("pause", "--all", "-c", cfg)
            assert again.returncode == 0 and "confirmed it in" in again.stdout, again.stderr
        finally:
            daemon.stop()
