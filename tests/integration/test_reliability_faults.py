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
from datetime import UTC, datetime
from pathlib import Path

from tagger.config import load_config
from tagger.engine.cycle import Account, run_account_cycle
from tagger.engine.ledger import Ledger
from tagger.engine.options import cycle_options
from tagger.mimecast.clearance import Clearance
from tagger.mimecast.client import SearchResult
from tagger.mimecast.criteria import SearchCriteria
from tagger.mimecast.errors import ServerError
from tagger.mimecast.models import MessageInfo
from tagger.rules import load_rules
from tagger.service.runtime import open_runtime
from tagger.simulator import Simulator, SimulatorConfig
from tagger.state import StateStore
from tests.support.daemon import expected_pairs, write_config


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

    async def apply_smart_tag(
        self, message_id: str, tag_id: str, clearance: Clearance | None = None
    ) -> None:
        await self.client.apply_smart_tag(message_id, tag_id, clearance)  # type: ignore[attr-defined]


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
                options = cycle_options(config)
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
                full = cycle_options(config)
                waiting = cycle_options(config, skip_queries=frozenset({hourly}))
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
