"""Real ``tagger`` processes against the simulator behind a hostile HTTP server on 127.0.0.1.

- A server that echoes the request's ``Authorization`` header in error bodies
  (``detail``, ``fail[]`` messages, error codes, request ids): no part of any
  token appears in the logs, the state file or ``tagger status``.
- ``Retry-After`` / ``X-RateLimit-Reset`` of 999,999,996 s on the apply
  endpoint: the wait is cut to ``retry.max_wait_s``, the endpoint is probed
  again after it, nothing is lost, and a later cycle applies every tag once the
  service has recovered.
"""

from __future__ import annotations

import sqlite3
import threading
from pathlib import Path
from typing import Any

import pytest

from tagger import exitcodes
from tagger.mimecast.endpoints import APPLY_SMART_TAG_PATH, MESSAGE_INFO_PATH
from tagger.simulator import Simulator, SimulatorConfig
from tests.support.daemon import (
    account_yaml,
    applied_pairs,
    expected_pairs,
    run_tagger,
    write_config,
)
from tests.support.hostile import Answer, HostileServer, Seen

pytestmark = pytest.mark.slow


def config_for(tmp_path: Path, sim: Simulator, url: str, **account: Any) -> Path:
    entry = account_yaml(sim)
    entry["base_url"] = url
    entry.update(account)
    return write_config(tmp_path, sim, accounts=[entry])


def message_id(seen: Seen) -> str | None:
    """Return the message id a get-message-info request asks for."""
    body = seen.json()
    data = body.get("data") if isinstance(body, dict) else None
    first = data[0] if isinstance(data, list) and data else None
    return first.get("id") if isinstance(first, dict) else None


def state_text(path: Path) -> str:
    """Return every row of the state file as text (failures, runs, everything)."""
    conn = sqlite3.connect(path)
    try:
        return "\n".join(conn.iterdump())
    finally:
        conn.close()


def test_echoed_bearer_tokens_reach_no_log_state_or_status(tmp_path: Path) -> None:
    with Simulator(SimulatorConfig(seed=81, messages=40)) as sim:
        victims = {m.id for m in sim.messages()[:20]}
        echoed: list[str] = []

        def script(seen: Seen) -> Answer | None:
            if seen.path != MESSAGE_INFO_PATH or message_id(seen) not in victims:
                return None
            auth = seen.headers.get("authorization", "")
            echoed.append(auth)
            return Answer.of_json(
                {
                    "meta": {"status": 400},
                    "data": [],
                    "fail": [{"errors": [{"code": f"err {auth}", "message": f"got {auth}"}]}],
                    "detail": f"invalid header Authorization: {auth}",
                },
                status=400,
                **{"x-mc-req-id": f"req {auth}"},
            )

        with HostileServer(script, upstream=sim.url) as server:
            config = str(config_for(tmp_path, sim, server.url))
            once = run_tagger("once", "-c", config, "--log-level", "debug")
            status = run_tagger("status", "-c", config)
            tokens = {t for t in server.authorizations() if len(t) >= 8}
    assert echoed, "the hostile server must have echoed a header"
    assert once.returncode in (exitcodes.FAILURE, exitcodes.INCOMPLETE), once.stderr[-2000:]
    assert "***" in once.stderr  # the echoed values were there, masked
    assert status.returncode in (0, exitcodes.FAILURE), status.stderr
    state = state_text(tmp_path / "state.db")
    assert "***" in state  # the failures were stored, masked
    texts = {"once": once.stdout + once.stderr, "status": status.stdout + status.stderr}
    texts["state"] = state
    leaked = {name: sorted(t for t in tokens if t in text) for name, text in texts.items()}
    assert leaked == {"once": [], "status": [], "state": []}


def test_a_huge_retry_after_on_apply_is_capped_probed_and_recovered(tmp_path: Path) -> None:
    huge = {"Retry-After": "999999996", "X-RateLimit-Reset": "999999996000"}
    recovered = threading.Event()

    def script(seen: Seen) -> Answer | None:
        if seen.path == APPLY_SMART_TAG_PATH and not recovered.is_set():
            return Answer.of_json({"detail": "Over throttling limit"}, status=429, **huge)
        return None

    with Simulator(SimulatorConfig(seed=82, messages=30)) as sim:
        expected = expected_pairs(sim)
        assert expected
        with HostileServer(script, upstream=sim.url) as server:
            retry = {"max_attempts": 3, "max_total_s": 4, "base_delay_s": 0.05, "max_wait_s": 1}
            config = str(config_for(tmp_path, sim, server.url, retry=retry))
            first = run_tagger("once", "-c", config)
            refused = len(server.requests(APPLY_SMART_TAG_PATH))
            recovered.set()
            second = run_tagger("once", "-c", config)
        applied = applied_pairs(sim)
        repeats = {k: v for k, v in sim.applied().items() if v > 1}
    # Transient: nothing set aside, nothing lost, the work left for the next run.
    assert first.returncode == exitcodes.INCOMPLETE, first.stderr[-2000:]
    assert "mimecast_rate_limit_wait_capped" in first.stderr
    # The first 429 was followed by probes after the capped wait, not by silence.
    assert refused >= 2
    assert second.returncode == exitcodes.OK, second.stderr[-2000:]
    assert applied == expected and repeats == {}
