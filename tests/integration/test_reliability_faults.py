"""Faults and load: under 5xx, drops, malformed JSON, 429 bursts, late mail and capped
windows the daemon applies every expected tag and nothing else.

The two scenarios (:mod:`testkit.faults`: the daemon as a real process
against the simulator, shared with ``bench/faults.py``) are asserted for
correctness only; the benchmark prints the figures.
The other tests pin down the defects these runs found: a failed search, or a
search skipped while a rule's schedule is not due, that left a message judged
by only some of its rules (and marked done), and a 429 with a short reset that
shut an endpoint's gate for the whole rate-limit window.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from tagger.config import load_config
from tagger.engine.cycle import Account, run_account_cycle
from tagger.engine.ledger import Ledger
from tagger.mimecast.client import SearchResult
from tagger.mimecast.criteria import SearchCriteria
from tagger.mimecast.errors import ServerError
from tagger.mimecast.models import MessageInfo
from tagger.mimecast.ratelimit import RateLimitGate, RateLimitInfo
from tagger.rules import load_rules
from tagger.service.runtime import cycle_options, open_runtime
from tagger.simulator import Simulator, SimulatorConfig
from tagger.state import StateStore
from testkit.faults import Result, late, soak
from tests.support.daemon import expected_pairs, write_config


def run_scenario(scenario: Callable[[int, int, float], Result], *args: int) -> dict[str, object]:
    """Run one scenario of :mod:`testkit.faults` and return its figures as JSON data."""
    return json.loads(json.dumps(scenario(*args, 120.0).to_json()))


@pytest.mark.slow
@pytest.mark.timeout(160)
def test_fault_soak_completes_with_every_tag_and_no_extra() -> None:
    figures = run_scenario(soak, 3, 800)
    assert figures["completed"], figures
    assert figures["expected"] > 100  # the soak has real work to do
    assert figures["missing"] == 0, figures
    assert figures["extra"] == 0, figures
    assert figures["set_aside"] == 0, figures
    assert figures["exit_code"] == 0, figures
    faults = figures["faults"]
    assert isinstance(faults, dict)
    # The faults really happened, and the client really retried them.
    assert faults["error_5xx"] > 0 and faults["drop"] > 0, figures
    assert isinstance(figures["throttled_429"], int) and figures["throttled_429"] > 0
    assert isinstance(figures["retries"], int) and figures["retries"] > 0
    # A repeated apply call only ever follows a truncated answer to an executed apply.
    assert figures["duplicate_calls"] <= faults["malformed_json"], figures
    assert figures["ok"] is True


@pytest.mark.slow
@pytest.mark.timeout(160)
def test_late_indexing_and_capped_windows_at_scale_lose_nothing() -> None:
    figures = run_scenario(late, 5, 2000)
    assert figures["completed"], figures
    assert figures["missing"] == 0 and figures["extra"] == 0, figures
    assert figures["duplicate_calls"] == 0, figures
    assert isinstance(figures["window_splits"], int) and figures["window_splits"] > 0
    assert figures["saturated_windows"] == 0, figures
    # Some tags belong to mail the daemon's first searches could not see yet.
    assert isinstance(figures["late_expected_pairs"], int) and figures["late_expected_pairs"] > 0
    assert figures["late_pairs_applied"] == figures["late_expected_pairs"], figures
    assert figures["ok"] is True


class FailingSearch:
    """The real client, except that searches for one criteria raise a 503 error."""

    def __init__(self, client: object, failing: SearchCriteria) -> None:
        self.client = client
        self.failing = failing

    async def search(
        self, criteria: SearchCriteria, start: datetime, end: datetime
    ) -> SearchResult:
        if criteria == self.failing:
            raise ServerError("Mimecast server error", status=503, retryable=True)
        result: SearchResult = await self.client.search(criteria, start, end)  # type: ignore[attr-defined]
        return result

    async def get_message_info(self, message_id: str) -> MessageInfo:
        info: MessageInfo = await self.client.get_message_info(message_id)  # type: ignore[attr-defined]
        return info

    async def apply_smart_tag(self, message_id: str, tag_id: str) -> None:
        await self.client.apply_smart_tag(message_id, tag_id)  # type: ignore[attr-defined]


def test_a_failed_search_never_leaves_a_message_judged_by_only_some_rules(
    tmp_path: Path,
) -> None:
    """The phishing rule's search fails in the first cycle, the others succeed.

    Its messages are also found by the high-spam rule's search (inbound,
    archived), which needs no message info; judged without the phishing rule
    they would get the lower-priority tag the phishing rule's ``stop`` forbids,
    be marked processed, and never get the phishing tag.
    """
    with Simulator(SimulatorConfig(seed=11, messages=400)) as sim:
        config = load_config(write_config(tmp_path, sim))

        async def cycles() -> None:
            runtime = await open_runtime(config)
            try:
                acct = runtime.accounts[0]
                queries = runtime.ruleset.queries
                phishing = next(
                    q for q in queries if any(r.id == "phishing-suspect" for r in q.rules)
                )
                options = cycle_options(config, dry_run=False)
                with StateStore.open(tmp_path / "state.db") as state:
                    broken = FailingSearch(acct.client, phishing.criteria)
                    for client in (broken, acct.client):
                        ledger = Ledger(state, acct.name, runtime.ruleset)
                        account = Account(acct.name, client, runtime.ruleset, acct.tag_ids, ledger)
                        await run_account_cycle(account, options, lambda: datetime.now(UTC))
            finally:
                await runtime.close()

        asyncio.run(cycles())
        expected = expected_pairs(sim)
        applied = set(sim.applied())
        assert expected, "the mailbox must hold mail the rules tag"
        assert applied - expected == set(), "a tag a stop rule forbids was applied"
        assert expected - applied == set(), "a tag was lost"


def test_a_short_429_does_not_shut_the_gate_for_long() -> None:
    """A 429 whose reset is 0.3 s, then a concurrent request's answer with 250 calls left."""
    clock = [100.0]

    async def no_sleep(seconds: float) -> None:
        clock[0] += seconds

    gate = RateLimitGate(lambda: clock[0], no_sleep)

    async def scenario() -> int:
        first = await gate.acquire(deadline=1e9)
        assert gate.claim(first)
        # A bucket of 300, one request back every 60 s.
        gate.settle(first, RateLimitInfo(limit=300, remaining=299, reset_s=60.0), False)
        a, b = await gate.acquire(deadline=1e9), await gate.acquire(deadline=1e9)
        assert gate.claim(a) and gate.claim(b)
        gate.settle(a, RateLimitInfo(limit=300, remaining=0, reset_s=0.3), True)
        gate.settle(b, RateLimitInfo(limit=300, remaining=250, reset_s=60.0), False)
        assert gate.delay() == pytest.approx(0.3)
        clock[0] += 0.3
        sent = 0
        while gate.delay() == 0.0 and sent < 1000:
            ticket = await gate.acquire(deadline=1e9)
            assert gate.claim(ticket)
            sent += 1
        return sent

    # The bucket's own credit is honoured at once, then calls wait for the refill.
    assert asyncio.run(scenario()) == 250
    assert gate.delay() > 0


SCHEDULED_AND_OVERLAPPING = """\
rules:
  - id: inbound-hourly
    description: every inbound message, searched once an hour
    schedule: 1h
    search: {route: [inbound]}
    match: {field: spam.score, gte: 0}
    tags: [Review/Needs triage]
  - id: archived-every-cycle
    description: archived inbound mail, searched at every cycle (a subset of the above)
    search: {route: [inbound], status: [archived]}
    match: {field: spam.score, gte: 0}
    tags: [Review/False positive]
"""


def test_mail_found_while_a_scheduled_query_waits_still_gets_that_rules_tags(
    tmp_path: Path,
) -> None:
    """Mail arriving while the hourly query is not due is found by the other query first."""
    rules = tmp_path / "rules.yaml"
    rules.write_text(SCHEDULED_AND_OVERLAPPING)
    with Simulator(SimulatorConfig(seed=2, messages=50)) as sim:
        config = load_config(write_config(tmp_path, sim, rules=[rules]))

        async def cycles() -> None:
            runtime = await open_runtime(config)
            try:
                acct = runtime.accounts[0]
                hourly = next(
                    q.key for q in runtime.ruleset.queries if q.rules[0].id == "inbound-hourly"
                )
                full = cycle_options(config, dry_run=False)
                waiting = cycle_options(config, dry_run=False, skip_queries=frozenset({hourly}))
                with StateStore.open(tmp_path / "state.db") as state:
                    ledger = Ledger(state, acct.name, runtime.ruleset)
                    account = Account(acct.name, acct.client, runtime.ruleset, acct.tag_ids, ledger)
                    await run_account_cycle(account, full, lambda: datetime.now(UTC))
                    sim.add_messages(30)
                    await run_account_cycle(account, waiting, lambda: datetime.now(UTC))
                    await run_account_cycle(account, full, lambda: datetime.now(UTC))
            finally:
                await runtime.close()

        asyncio.run(cycles())
        expected = expected_pairs(sim, load_rules([rules]))
        applied = sim.applied()
        assert expected - set(applied) == set(), "the scheduled rule's tags were lost"
        assert set(applied) == expected
        assert all(n == 1 for n in applied.values()), "a tag was applied twice"
