"""Credentials failing mid-run, with two accounts in one daemon (a real ``tagger run`` process).

Account ``modern`` speaks API 2.0 (OAuth), account ``legacy`` API 1.0 (HMAC),
each against its own simulator. Half-way, every OAuth token is expired and the
1.0 key binding expires (HTTP 418): the 2.0 account refreshes its token
without a warning and keeps tagging; the 1.0 account stops with a message that
says what the operator must do, and makes no further calls.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from tagger.simulator import Simulator, SimulatorConfig
from tests.support.daemon import (
    Running,
    account_yaml,
    applied_pairs,
    expected_pairs,
    repeated_applies,
    run_tagger,
    wait_until,
    write_config,
)

pytestmark = pytest.mark.slow


def test_expired_token_recovers_silently_and_expired_key_binding_stops_only_its_account(
    tmp_path: Path,
) -> None:
    with (
        Simulator(SimulatorConfig(seed=61, messages=60)) as modern,
        Simulator(SimulatorConfig(seed=62, messages=60)) as legacy,
    ):
        accounts = [account_yaml(modern, "modern", "2.0"), account_yaml(legacy, "legacy", "1.0")]
        config = write_config(tmp_path, modern, accounts=accounts)
        daemon = Running("run", "-c", str(config))
        try:
            for sim, name in ((modern, "modern"), (legacy, "legacy")):
                wait_until(
                    lambda sim=sim: applied_pairs(sim) == expected_pairs(sim) != set(),
                    30,
                    f"the first cycle of {name}",
                )
            tokens_before = modern.stats()["tokens_issued"]
            modern.expire_tokens()
            legacy.expire_key_binding()
            modern.add_messages(40)
            legacy.add_messages(40)

            stopped = daemon.wait_event("account_stopped", timeout=30)
            assert [e["account"] for e in stopped] == ["legacy"]
            message = stopped[0]["error"]
            for words in ("key binding has expired", "re-create", "credentials", "restart"):
                assert words in message, message

            wait_until(
                lambda: applied_pairs(modern) == expected_pairs(modern),
                30,
                "the new mail of the 2.0 account",
            )
            assert modern.stats()["tokens_issued"] > tokens_before
            assert daemon.named("mimecast_token_refresh"), "the expired token was not refreshed"

            # The stopped account stays stopped: no call at all while modern goes on.
            legacy_calls = legacy.stats()["requests"]
            cycles = len(daemon.named("cycle_finished"))
            modern.add_messages(30)
            wait_until(
                lambda: applied_pairs(modern) == expected_pairs(modern),
                30,
                "more mail of the 2.0 account",
            )
            wait_until(
                lambda: len(daemon.named("cycle_finished")) >= cycles + 2, 20, "two more cycles"
            )
            assert legacy.stats()["requests"] == legacy_calls
            assert daemon.proc.poll() is None, "the daemon must keep running"

            status = run_tagger("status", "-c", str(config))
            assert status.returncode == 0, status.stderr
            legacy_line = next(
                line for line in status.stdout.splitlines() if line.startswith("account legacy")
            )
            assert "status stopped" in legacy_line and "re-create" in legacy_line, legacy_line
        finally:
            assert daemon.stop() == 0, daemon.stderr[-3000:]

        # The token expiry was silent: nothing above info about the 2.0 account.
        loud = [
            e
            for e in daemon.events
            if e.get("level") in ("warning", "error", "critical")
            and e.get("logger") != "apscheduler.scheduler"
            and e.get("account") != "legacy"
        ]
        assert loud == [], loud
        assert repeated_applies(modern) == {} and repeated_applies(legacy) == {}
