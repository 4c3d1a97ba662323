"""tagger simulate as a process serves until SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys

import httpx
import pytest

from tagger.simulator.credentials import DEMO

SEARCH = "/api/message-finder/search"


@pytest.mark.slow
def test_tagger_simulate_serves_until_sigterm() -> None:
    env = {**os.environ, "TAGGER_SIM_CLIENT_SECRET": "from-the-environment"}
    cmd = [
        sys.executable,
        "-m",
        "tagger",
        "simulate",
        "--port",
        "0",
        "--seed",
        "3",
        "--messages",
        "20",
    ]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline().strip()
        assert first.startswith("tagger simulator listening on http://127.0.0.1:")
        url = first.rsplit(" ", 1)[1]
        form = {"client_id": DEMO.client_id, "grant_type": "client_credentials"}
        assert (
            httpx.post(
                f"{url}/oauth/token", data={**form, "client_secret": "from-the-environment"}
            ).status_code
            == 200
        )
        assert (
            httpx.post(
                f"{url}/oauth/token", data={**form, "client_secret": DEMO.client_secret}
            ).status_code
            == 401
        )
        r = httpx.post(f"{url}{SEARCH}", json={"data": [{}]})
        assert r.status_code == 401
        assert httpx.get(f"{url}/_sim/stats").json()["tokens_issued"] == 1
        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=10)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(5)
    assert proc.returncode == 0, err
    assert "from-the-environment" not in out + err
    assert "stopped" in out
