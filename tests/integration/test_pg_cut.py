"""A PostgreSQL connection that answers nothing is cut off, never waited on for ever."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tagger.state import StateError, StateStore, pgdb
from testkit.faultproxy import FaultProxy
from testkit.pgserver import PgServer


def test_a_blackholed_write_fails_after_its_deadline_and_the_next_reconnects(
    pg_server: PgServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(pgdb, "CALL_DEADLINE_S", 1.0)
    monkeypatch.setattr(pgdb, "CHECK_DEADLINE_S", 1.0)
    database = pg_server.database().rsplit("/", 1)[1]
    with FaultProxy("127.0.0.1", pg_server.port) as proxy:
        dsn = f"postgresql://tagger_test@127.0.0.1:{proxy.port}/{database}"
        store = StateStore.open_postgresql(tmp_path / "state.db", dsn)
        try:
            at = datetime(2026, 12, 1, tzinfo=UTC)
            store.set_switch("probe", True, at)
            proxy.set_mode("blackhole")
            started = time.monotonic()
            with pytest.raises(StateError, match=r"127\.0\.0\.1"):
                store.set_switch("probe", False, at)
            assert time.monotonic() - started < 20  # cut off near its deadline, not hung
            proxy.set_mode("pass")
            store.set_switch("probe", False, at)  # a fresh connection
            assert store.switch("probe") is False
        finally:
            proxy.set_mode("pass")
            store.close()
