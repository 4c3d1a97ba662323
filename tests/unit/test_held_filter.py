"""Which held pairs a HeldFilter selects, read and resolved on a real state file."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tagger.state import StateStore
from tagger.state.held import (
    APPLIED,
    AWAITING,
    DROPPED,
    EXPIRED,
    HELD,
    PAUSED,
    HeldFilter,
    HeldRow,
)
from tests.support.ledgers import BACKENDS, Ledger, make_ledger

T0 = datetime(2026, 11, 2, 8, 0, tzinfo=UTC)


def _row(
    mid: str,
    rule: str = "r1",
    *,
    account: str = "acme",
    reason: str = AWAITING,
    rule_hash: str = "h1",
    received: datetime | None = None,
) -> HeldRow:
    return HeldRow(account, mid, "tag-1", rule, rule_hash, "Tag 1", reason, T0, received)


@pytest.fixture(params=BACKENDS)
def ledger(request: pytest.FixtureRequest, tmp_path: Path) -> Ledger:
    return make_ledger(request, tmp_path)


@pytest.fixture
def store(ledger: Ledger) -> Iterator[StateStore]:
    with ledger.open() as s:
        s.hold(
            [
                _row("m1", received=T0 - timedelta(days=40)),
                _row("m2", reason=PAUSED, received=T0 - timedelta(days=1)),
                _row("m3", "r2", rule_hash="h2"),  # received unknown: held at T0
                _row("m4", account="other"),
            ]
        )
        yield s


def _ids(rows: list[HeldRow]) -> list[str]:
    return sorted(r.message_id for r in rows)


def test_each_field_given_narrows_the_pairs_released(store: StateStore) -> None:
    which = HeldFilter(account="acme", rule_ids=frozenset({"r1"}), reasons=frozenset({PAUSED}))
    assert _ids(store.release_held(DROPPED, T0, "why", which)) == ["m2"]
    assert _ids(store.held_rows(status=DROPPED)) == ["m2"]
    assert _ids(store.held_rows()) == ["m1", "m3", "m4"]


def test_received_before_falls_back_on_when_the_pair_was_held(store: StateStore) -> None:
    which = HeldFilter(received_before=T0 - timedelta(days=2))
    assert _ids(store.release_held(EXPIRED, T0, "too old", which)) == ["m1"]
    late = HeldFilter(received_before=T0 + timedelta(seconds=1), rule_hash="h2")
    assert _ids(store.release_held(EXPIRED, T0, "too old", late)) == ["m3"]


def test_empty_choices_select_nothing(store: StateStore) -> None:
    assert store.release_held(DROPPED, T0, "", HeldFilter(reasons=frozenset())) == []
    assert store.release_held(DROPPED, T0, "", HeldFilter(rule_ids=frozenset())) == []
    assert store.held_rows(rule_ids=[]) == []
    assert len(store.held_rows()) == 4


def test_only_pairs_still_held_are_released_whatever_the_status_asked(store: StateStore) -> None:
    store.resolve_held("acme", [("m1", "tag-1", "r1")], APPLIED, T0)
    gone = store.release_held(DROPPED, T0, "", HeldFilter(account="acme", status=APPLIED))
    assert _ids(gone) == ["m2", "m3"]
    assert [r.status for r in store.held_rows(status=APPLIED)] == [APPLIED]
    assert _ids(store.held_rows(status=HELD)) == ["m4"]


def test_resolving_counts_the_pairs_that_changed(store: StateStore) -> None:
    keys = [("m1", "tag-1", "r1"), ("m2", "tag-1", "r1"), ("m9", "tag-1", "r1")]
    assert store.resolve_held("acme", keys, APPLIED, T0) == 2  # m9 is not held
    assert store.resolve_held("acme", keys, DROPPED, T0) == 0  # no longer held
    assert store.resolve_held("acme", [], APPLIED, T0) == 0
    assert _ids(store.held_rows(status=APPLIED)) == ["m1", "m2"]
