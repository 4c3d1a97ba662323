"""Signals from the first instruction on: a SIGHUP at any moment of start-up never kills the daemon.

The daemon is started and sent SIGHUP 0, 50, 100, ... 1000 ms after exec:
from while Python imports tagger's modules to after it is up. It must be
running afterwards (the reload is kept and done once it is up), and a SIGTERM
then stops it cleanly with exit 0. The moments before the interpreter runs
any code of tagger's (its own start-up, measured here as three times what a
bare ``python -c pass`` takes now) are left out: no program can handle a
signal before its first instruction, and under systemd (Type=notify) a
reload is only sent once the daemon said it is ready. A SIGHUP to a command that does
not handle signals (``tagger validate``) still takes its default action.
"""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tagger import exitcodes
from tagger.simulator import Simulator, SimulatorConfig
from testkit.processes import tagger_env
from tests.support.daemon import Running, write_config

pytestmark = pytest.mark.slow

DELAYS_MS = range(0, 1001, 50)


@pytest.fixture(scope="module")
def sim() -> Iterator[Simulator]:
    with Simulator(SimulatorConfig(port=0, seed=4, messages=5)) as s:
        yield s


@pytest.mark.timeout(600)
def test_sighup_at_every_moment_of_start_up_leaves_the_daemon_running(
    tmp_path: Path, sim: Simulator
) -> None:
    began = time.monotonic()
    subprocess.run([sys.executable, "-c", "pass"], check=True)
    interpreter_ms = 3 * (time.monotonic() - began) * 1000
    died = []
    for delay_ms in (d for d in DELAYS_MS if d >= interpreter_ms):
        work = tmp_path / f"at-{delay_ms}ms"
        work.mkdir()
        proc = Running("run", "-c", str(write_config(work, sim)))
        try:
            time.sleep(delay_ms / 1000)  # the moment under test, not a wait for a result
            proc.signal(signal.SIGHUP)
            proc.wait_event("daemon_started", timeout=60)
            if proc.proc.poll() is not None:
                died.append((delay_ms, proc.proc.returncode))
                continue
            proc.signal(signal.SIGTERM)
            code = proc.wait(timeout=60)
        finally:
            proc.stop()
        if code != exitcodes.OK or "Traceback" in proc.stderr:
            died.append((delay_ms, code))
    assert died == [], f"(ms after exec, exit status) of daemons a SIGHUP ended: {died}"


def test_a_command_that_handles_no_signal_still_dies_of_sighup(tmp_path: Path) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text("rules: []\n", encoding="utf-8")
    script = (
        "import os, signal\n"
        "from tagger.service import earlysignals\n"
        "earlysignals.install()  # what the tagger command does first\n"
        "os.kill(os.getpid(), signal.SIGHUP)  # a SIGHUP while it starts up\n"
        "from tagger.cli.main import main\n"
        f"raise SystemExit(main(['validate', {str(rules)!r}]))\n"
    )
    proc = subprocess.Popen(
        [sys.executable, "-c", script],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        env=tagger_env(),
    )
    proc.communicate(timeout=60)
    # Noted at start-up, then given back its default action once the command was known.
    assert proc.returncode == -signal.SIGHUP
