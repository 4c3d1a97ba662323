"""Truncated search answers are detected from the answers, whatever the server's cap.

Unit level: the cap knowledge, ``search_window`` against an in-memory server
keeping the oldest, newest or an arbitrary subset, the state rows. End to
end: tagger with its default configuration (``search_cap`` 500) against the
real simulator over HTTP capping at 40, 100, 500 and 1000 finds every message
and applies every expected tag.
"""

from __future__ import annotations

import asyncio
import random
import sqlite3
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog

from tagger.engine.ledger import Ledger
from tagger.engine.search import search_window
from tagger.engine.searchcap import TRUST, CapKnowledge, CapTracker, Verdict
from tagger.engine.window import Window
from tagger.mimecast.criteria import SearchCriteria
from tagger.mimecast.models import TrackedEmail
from tagger.rules import RuleSet
from tagger.state import SearchCapRow, StateStore
from tagger.state.schema import MIGRATIONS
from tests.support.ledgers import BACKENDS, make_ledger
from tests.support.ledgers import Ledger as LedgerAt

T0 = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
CRITERIA = SearchCriteria()


# -- the knowledge -------------------------------------------------------------------


def test_counts_below_the_largest_seen_are_complete_and_a_new_largest_is_suspect() -> None:
    k = CapKnowledge().observe(30)
    assert k.classify(0) is Verdict.COMPLETE
    assert k.classify(29) is Verdict.COMPLETE
    assert k.classify(30) is Verdict.SUSPECT
    assert k.observe(31).classify(31) is Verdict.SUSPECT
    assert k.observe(31).classify(30) is Verdict.COMPLETE


def test_a_truncated_count_is_the_cap_until_an_answer_exceeds_it() -> None:
    k = CapKnowledge().observe(40).truncated(40)
    assert k.learned == 40
    assert k.classify(40) is Verdict.TRUNCATED and k.classify(39) is Verdict.COMPLETE
    raised = k.observe(41)
    assert raised.learned is None and raised.classify(41) is Verdict.SUSPECT
    # Evidence below the largest answer is mail indexed between calls, not a cap.
    assert CapKnowledge().observe(50).truncated(40).learned is None


def test_a_largest_count_shown_complete_often_enough_is_trusted() -> None:
    k = CapKnowledge().observe(25)
    for _ in range(TRUST):
        assert k.classify(25) is Verdict.SUSPECT
        k = k.complete(25)
    assert k.classify(25) is Verdict.COMPLETE


# -- search_window against an in-memory server -----------------------------------------


@dataclass(frozen=True)
class Found:
    emails: tuple[TrackedEmail, ...]


class Server:
    """A message-finder search over ``n`` messages, one every ``step`` seconds before T0."""

    def __init__(self, n: int, cap: int, mode: str, step: int = 60) -> None:
        self.mail = [
            TrackedEmail(id=f"m{i:05d}", received=T0 - timedelta(seconds=step * (n - i)))
            for i in range(n)
        ]
        self.cap, self.mode, self.calls = cap, mode, 0

    async def search(self, criteria: SearchCriteria, start: datetime, end: datetime) -> Found:
        self.calls += 1
        await asyncio.sleep(0)  # an answer arrives later, as over a network
        hits = [e for e in self.mail if e.received is not None and start <= e.received <= end]
        if self.cap and len(hits) > self.cap:
            if self.mode == "newest":
                hits = hits[-self.cap :]
            elif self.mode == "random":
                rng = random.Random(f"{start}:{end}")
                hits = [hits[i] for i in sorted(rng.sample(range(len(hits)), self.cap))]
            else:
                hits = hits[: self.cap]
        return Found(tuple(hits))

    def ids(self) -> set[str]:
        return {e.id for e in self.mail}


def search(server: Server, tracker: CapTracker, split_min_s: float = 1.0) -> Any:
    window = Window(T0 - timedelta(hours=24), T0)
    return asyncio.run(
        search_window(server, CRITERIA, window, cap=500, split_min_s=split_min_s, tracker=tracker)
    )


@pytest.mark.parametrize("mode", ["oldest", "newest", "random"])
@pytest.mark.parametrize("cap", [7, 40, 100])
def test_every_message_is_found_and_the_cap_learned(cap: int, mode: str) -> None:
    server = Server(263, cap, mode)
    tracker = CapTracker(500)
    outcome = search(server, tracker)
    assert set(outcome.emails) == server.ids()
    assert outcome.saturated == []
    assert tracker.knowledge.learned == cap


def test_an_uncapped_server_costs_one_check_of_the_fullest_window() -> None:
    server = Server(263, 0, "oldest")
    tracker = CapTracker(500)
    outcome = search(server, tracker)
    assert set(outcome.emails) == server.ids()
    assert tracker.knowledge == CapKnowledge(None, 263, 1)
    assert (outcome.calls, outcome.verify_calls) == (3, 2)
    # Known now: a later, smaller window is not checked again.
    later = Server(100, 0, "oldest")
    assert search(later, tracker).calls == 1


def test_concurrent_searches_are_judged_against_the_fullest_first_answer() -> None:
    small, large = Server(50, 0, "oldest"), Server(200, 0, "oldest")
    tracker = CapTracker(500)
    window = Window(T0 - timedelta(hours=24), T0)

    async def both() -> list[Any]:
        return list(
            await asyncio.gather(
                *(
                    search_window(s, CRITERIA, window, cap=500, split_min_s=1, tracker=tracker)
                    for s in (small, large)
                )
            )
        )

    first, second = asyncio.run(both())
    assert (first.calls, second.calls) == (1, 3)


def test_a_window_still_truncated_at_split_min_is_reported_saturated() -> None:
    server = Server(50, 10, "newest", step=0)  # 50 messages in one second
    with structlog.testing.capture_logs() as logs:
        outcome = search(server, CapTracker(500))
    assert outcome.saturated and len(outcome.emails) < 50
    assert any(e["event"] == "search_window_saturated" for e in logs)


def test_a_learned_cap_that_differs_from_the_configured_one_is_warned_about_once(
    tmp_path: Path,
) -> None:
    with StateStore.open(tmp_path / "state.db") as state:
        with structlog.testing.capture_logs() as logs:
            for _ in range(2):
                ledger = Ledger(state, "acct-warn", RuleSet(()))
                tracker = ledger.search_caps(500)
                search(Server(263, 40, "oldest"), tracker)
                ledger.save_search_caps(tracker, T0)
        warnings = [e for e in logs if e["event"] == "search_cap_mismatch"]
        assert len(warnings) == 1
        assert (warnings[0]["learned_cap"], warnings[0]["configured_cap"]) == (40, 500)
        assert "window.search_cap: 40" in warnings[0]["advice"]
        assert state.get_search_cap("acct-warn") == SearchCapRow(40, 40, 0, T0)


# -- state -----------------------------------------------------------------------------


@pytest.fixture(params=BACKENDS)
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> LedgerAt:
    return make_ledger(request, tmp_path)


def test_the_cap_survives_reopening_and_a_dry_run_copy_never_writes_it(backend: LedgerAt) -> None:
    with backend.open() as store:
        assert store.get_search_cap("a") is None
        store.set_search_cap("a", SearchCapRow(None, 120, 1, T0))
    with backend.open() as store:
        assert store.get_search_cap("a") == SearchCapRow(None, 120, 1, T0)
        with backend.copy() as copy:
            copy.set_search_cap("a", SearchCapRow(40, 40, 0, T0))
            assert copy.get_search_cap("a") == SearchCapRow(40, 40, 0, T0)
        assert store.get_search_cap("a") == SearchCapRow(None, 120, 1, T0)


def test_a_version_1_file_gains_the_cap_table_and_keeps_its_rows(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with StateStore.open(path, migrations=MIGRATIONS[:1]) as old:
        old.set_watermark("a", "q", T0, T0)
    with StateStore.open(path) as store:
        assert store.schema_version() == MIGRATIONS[-1].version
        assert store.get_watermark("a", "q") == T0
        store.set_search_cap("a", SearchCapRow(100, 100, 0, T0))
    conn = sqlite3.connect(path)
    assert conn.execute("SELECT learned FROM search_caps").fetchall() == [(100,)]
    conn.close()


# -- end to end: the real simulator over HTTP ------------------------------------------
