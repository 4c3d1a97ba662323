"""The rails' records in the state file: pauses, promotions, rule history, the kill switch."""

from __future__ import annotations

import contextlib
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tagger.engine.pruning import prune
from tagger.state import StateStore
from tagger.state.railstore import PAUSE_ALL, PauseRow, RuleCycleRow
from tagger.state.schema import MIGRATIONS
from tests.support.ledgers import BACKENDS, Ledger, make_ledger

T0 = datetime(2026, 11, 23, 10, 0, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Ledger:
    return make_ledger(request, tmp_path)


def test_a_version_3_file_is_upgraded_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with StateStore.open(path, migrations=MIGRATIONS[:3]) as old:
        old.record_applied("a", "m1", "t1", rule_id="r", rule_hash="h", mode="enforce", at=T0)
    with StateStore.open(path, migrations=MIGRATIONS[:4]) as store:
        assert store.schema_version() == 4
        assert store.applied_since("a", T0 - timedelta(hours=1)) == {"r": 1}
        assert store.pauses() == [] and store.promotions() == set()


def test_rules_that_applied_in_enforce_mode_before_the_upgrade_count_as_promoted(
    tmp_path: Path,
) -> None:
    path = tmp_path / "state.db"
    with StateStore.open(path, migrations=MIGRATIONS[:3]) as old:
        old.record_applied("a", "m1", "t1", rule_id="r", rule_hash="h", mode="enforce", at=T0)
        old.record_applied("a", "m2", "t1", rule_id="r", rule_hash="h", mode="enforce", at=T0)
        old.record_applied("a", "m3", "t1", rule_id="s", rule_hash="h2", mode="audit", at=T0)
    with StateStore.open(path) as store:
        assert store.schema_version() == MIGRATIONS[-1].version
        # Enforcing before: promoted in that definition; a changed one audits again.
        assert store.promotions() == {("r", "h")}


def test_pauses_promotions_history_and_switches_round_trip(ledger: Ledger) -> None:
    with ledger.open() as store:
        store.add_pause(PauseRow("a", "r", "per-cycle apply limit", 3, 3, "per_cycle", T0))
        store.add_pause(PauseRow("b", "r", "per-cycle apply limit", 3, 3, "per_cycle", T0))
        assert [p.account for p in store.pauses()] == ["a", "b"]
        assert store.paused_rules() == ["r (a)", "r (b)"]
        assert store.lift_pause("r", "a") == 1
        assert store.lift_pause("r") == 1 and store.pauses() == []
        store.promote("r", "h1", T0)
        store.promote("r", "h1", T0)
        assert store.promotions() == {("r", "h1")}
        store.record_rule_cycle("a", [RuleCycleRow("r", 4, 2, 1)], T0)
        store.record_rule_cycle("a", [RuleCycleRow("r", 6, 0, 5)], T0 + timedelta(minutes=5))
        store.record_rule_cycle("a", [RuleCycleRow("r", 0, 0, 0)], T0 + timedelta(minutes=9))
        # A quiet cycle does not dilute the trailing average of the cycles it matched in.
        assert store.rule_history("a", T0) == {"r": (2, 10)}
        assert store.rule_history("a", T0 + timedelta(minutes=1)) == {"r": (1, 6)}
        assert store.switch(PAUSE_ALL) is False
        store.set_switch(PAUSE_ALL, True, T0)
        assert store.switch(PAUSE_ALL) is True
        assert store.quick_report() == "ok"


def test_the_kill_switch_set_by_another_connection_is_seen_at_once(ledger: Ledger) -> None:
    with ledger.open() as daemon:
        assert daemon.switch(PAUSE_ALL) is False
        with ledger.open(lock=False) as operator:
            operator.set_switch(PAUSE_ALL, True, T0)
        assert daemon.switch(PAUSE_ALL) is True


def test_pruning_drops_rule_history_beyond_the_retention_but_keeps_what_the_rails_read(
    ledger: Ledger,
) -> None:
    now = T0 + timedelta(days=30)
    with ledger.open() as store:
        for days in (29, 20, 9, 3):  # cycles 29, 20, 9 and 3 days before now
            store.record_rule_cycle("a", [RuleCycleRow("r", 2, 1, 0)], now - timedelta(days=days))
        counts = prune(store, now, timedelta(days=10))
        assert counts["rule_cycles"] == 2
        assert store.rule_history("a", T0) == {"r": (2, 4)}
        # A retention shorter than the rails' look-back keeps their 8 days.
        assert prune(store, now, timedelta(days=1))["rule_cycles"] == 1
        assert store.rule_history("a", T0) == {"r": (1, 2)}
        assert prune(store, now, timedelta(days=1))["rule_cycles"] == 0


def test_promotions_hold_on_every_account_or_on_one(ledger: Ledger) -> None:
    with ledger.open() as store:
        store.promote("shared", "h1", T0)
        store.promote("own", "h2", T0, "acme")
        store.promote("own", "h2", T0, "acme")
        assert store.promotions("acme") == {("shared", "h1"), ("own", "h2")}
        assert store.promotions("globex") == {("shared", "h1")}
        assert store.promotions() == {("shared", "h1"), ("own", "h2")}
        assert store.promoted_on() == {"": {("shared", "h1")}, "acme": {("own", "h2")}}


def test_a_version_6_file_keeps_its_promotions_for_every_account(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with StateStore.open(path, migrations=MIGRATIONS[:6]) as old:
        assert old.schema_version() == 6
    with contextlib.closing(sqlite3.connect(path)) as conn, conn:
        conn.execute(
            "INSERT INTO promotions (rule_id, content_hash, promoted_at) VALUES ('r', 'h', 0)"
        )
    with StateStore.open(path) as store:
        assert store.schema_version() == 7
        assert store.promotions("any-account") == {("r", "h")}
        store.promote("r", "h", T0, "acme")
        assert store.promoted_on() == {"": {("r", "h")}, "acme": {("r", "h")}}
