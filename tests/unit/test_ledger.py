"""The ledger's rules, on a real SQLite state file and no server.

A watermark never passes a message that is neither processed nor set aside;
after a cut-off run, message info is read before every apply; a failure holds
its queries' windows back; an account-level error sets nothing aside, marks
nothing and moves no watermark.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from tagger.engine.candidate import AccountLevelFailure, Candidate, Failure
from tagger.engine.ledger import Ledger
from tagger.engine.tally import CycleReport
from tagger.engine.window import Window, WindowPolicy
from tagger.mimecast.errors import ApiFailure, AuthenticationError
from tagger.mimecast.models import TrackedEmail
from tagger.rules import RuleSet, load_rules
from tagger.state import StateStore
from tests.support.ledgers import BACKENDS, make_ledger
from tests.support.ledgers import Ledger as LedgerAt
from tests.support.state import at

ROOT = Path(__file__).resolve().parents[2]
ACCOUNT = "acct"
POLICY = WindowPolicy(
    overlap=timedelta(minutes=10),
    ingestion_delay=timedelta(0),
    initial_lookback=timedelta(hours=1),
    max_catchup=timedelta(days=1),
    split_min=timedelta(seconds=1),
)


@pytest.fixture
def ruleset() -> RuleSet:
    return load_rules([ROOT / "rules"])


@pytest.fixture(params=BACKENDS)
def ledger_at(request: pytest.FixtureRequest, tmp_path: Path) -> LedgerAt:
    return make_ledger(request, tmp_path)


@pytest.fixture
def store(ledger_at: LedgerAt) -> StateStore:
    s = ledger_at.open()
    yield s  # type: ignore[misc]
    s.close()


def candidate(ruleset: RuleSet, mid: str, minute: float) -> Candidate:
    query = ruleset.queries[0]
    summary = TrackedEmail.parse({"id": mid, "received": at(minute).isoformat()})
    assert summary is not None
    return Candidate(summary, set(query.rule_ids), {query.key})


def report() -> CycleReport:
    return CycleReport(ACCOUNT, False, at(0))


def cycle(store: StateStore, ruleset: RuleSet, minute: float = 60) -> Ledger:
    ledger = Ledger(store, ACCOUNT, ruleset)
    ledger.begin("run", at(minute))
    ledger.start_cycle(at(minute))
    return ledger


def test_a_failed_message_holds_the_window_back_and_the_watermark_never_passes_it(
    store: StateStore, ruleset: RuleSet
) -> None:
    key = ruleset.queries[0].key
    ledger = cycle(store, ruleset)
    window = ledger.window(key, None, at(60), POLICY)
    assert window == Window(at(0), at(60))
    chunk = [candidate(ruleset, m, minute) for m, minute in (("ok1", 5), ("bad", 20), ("ok2", 40))]
    failure = Failure.of(ApiFailure("server busy", retryable=True), "failed")
    ledger.settle(chunk, {"bad": failure}, 5, report(), at(60))
    assert ledger.held_back() == 1
    assert ledger.advance(key, window, at(60)) == at(20)
    assert store.get_watermark(ACCOUNT, key) == at(20)
    done = ledger.judged_before({c.summary.id: c for c in chunk})
    assert done == {"ok1", "ok2"}

    # The next cycle searches from the failed message again; once it is done, the
    # watermark moves to the end of the window.
    again = cycle(store, ruleset, 90)
    window = again.window(key, None, at(90), POLICY)
    assert window.start <= at(20)
    again.settle([candidate(ruleset, "bad", 20)], {}, 5, report(), at(90))
    assert again.held_back() == 0
    assert again.advance(key, window, at(90)) == at(90)
    assert store.failures(ACCOUNT) == []


def test_a_message_failing_for_good_is_set_aside_and_no_longer_holds_the_window(
    store: StateStore, ruleset: RuleSet
) -> None:
    key = ruleset.queries[0].key
    permanent = Failure.of(ApiFailure("bad message", retryable=False), "failed")
    transient = Failure.of(ApiFailure("busy", retryable=True), "failed")
    for n in range(3):
        ledger = cycle(store, ruleset, 60 + n)
        ledger.settle(
            [candidate(ruleset, "bad", 20), candidate(ruleset, "slow", 30)],
            {"bad": permanent, "slow": transient},
            3,
            r := report(),
            at(60 + n),
        )
    assert r.set_aside == ["bad"]
    assert store.set_aside_ids(ACCOUNT) == {"bad"}
    # The transient failure holds the window back; the set-aside one no longer does.
    assert ledger.advance(key, Window(at(0), at(62)), at(62)) == at(30)


def test_after_a_cut_off_run_message_info_is_read_before_every_apply(
    store: StateStore, ruleset: RuleSet
) -> None:
    first = Ledger(store, ACCOUNT, ruleset)
    first.begin("run", at(0))
    assert not first.verify_present
    assert not first.needs_info(True)
    # The process dies here: the run is never finished.

    after_crash = Ledger(store, ACCOUNT, ruleset)
    after_crash.begin("run", at(5))
    assert after_crash.verify_present
    assert after_crash.needs_info(True) and after_crash.needs_info(None)
    after_crash.end(report(), "ok", None, at(6))

    clean = Ledger(store, ACCOUNT, ruleset)
    clean.begin("run", at(10))
    assert not clean.needs_info(True)
    clean.end(report(), "interrupted", None, at(11))

    assert Ledger(store, ACCOUNT, ruleset).cut_off()


def test_an_account_level_error_sets_nothing_aside_marks_nothing_and_moves_no_watermark(
    store: StateStore, ruleset: RuleSet
) -> None:
    key = ruleset.queries[0].key
    ledger = cycle(store, ruleset)
    refused = Failure.of(AuthenticationError("credentials refused"), "failed")
    permanent = Failure.of(ApiFailure("bad message", retryable=False), "failed")
    chunk = [candidate(ruleset, "a", 5), candidate(ruleset, "b", 6), candidate(ruleset, "c", 7)]
    with pytest.raises(AccountLevelFailure):
        ledger.settle(chunk, {"a": refused, "b": permanent}, 1, report(), at(60))
    assert ledger.advance(key, Window(at(0), at(60)), at(60)) is None
    assert store.get_watermark(ACCOUNT, key) is None
    assert store.set_aside_ids(ACCOUNT) == set()
    assert store.failures(ACCOUNT) == []
    assert ledger.judged_before({c.summary.id: c for c in chunk}) == set()


def test_an_applied_pair_is_recorded_once_for_the_account(
    store: StateStore, ruleset: RuleSet
) -> None:
    from tagger.engine.plan import Action

    ledger = cycle(store, ruleset)
    action = Action("m1", "t1", "Tag", "rule", "hash", "enforce")
    ledger.record_applied(action, at(1))
    ledger.record_applied(action, at(2))
    assert ledger.recorded(["m1", "m2"]) == {("m1", "t1")}
    assert Ledger(store, "other", ruleset).recorded(["m1"]) == set()


SCHEDULED = """\
rules:
  - id: hourly
    description: Checked hourly.
    schedule: 1h
    search:
      route: [inbound]
    match:
      field: spam.score
      gte: 5
    tags: [Security/Phishing]
  - id: always
    description: Checked every cycle.
    search:
      route: [outbound]
    match:
      field: spam.score
      gte: 5
    tags: [Security/Phishing]
"""


def test_when_a_scheduled_query_was_searched_survives_a_restart(
    store: StateStore, tmp_path: Path
) -> None:
    rules = tmp_path / "rules.yaml"
    rules.write_text(SCHEDULED)
    ruleset = load_rules([rules])
    hourly = next(q for q in ruleset.queries if q.rule_ids == {"hourly"})
    assert hourly.schedule == timedelta(hours=1)
    every = timedelta(minutes=5)

    first = cycle(store, ruleset, 0)
    assert first.not_due(every, at(0)) == frozenset()
    first.searched([q.key for q in ruleset.queries], at(0))

    # A new process (a new ledger on the same file) still knows: not due for an hour.
    restarted = Ledger(store, ACCOUNT, ruleset)
    assert restarted.not_due(every, at(10)) == {hourly.key}
    assert restarted.not_due(every, at(60)) == frozenset()
    assert Ledger(store, "other", ruleset).not_due(every, at(10)) == frozenset()


def test_a_checkpoint_moves_the_watermark_forward_only_and_keeps_the_counts(
    store: StateStore, ruleset: RuleSet
) -> None:
    key = ruleset.queries[0].key
    ledger = cycle(store, ruleset)
    window = ledger.window(key, None, at(60), POLICY)
    # The first chunk is done; the earliest message still to do was received at minute 30.
    ledger.settle([candidate(ruleset, "m5", 5)], {}, 5, report(), at(60))
    assert ledger.advance(key, window, at(60), at(30), forward_only=True) == at(30)
    # A later checkpoint never moves it back (an undone message before it is not possible,
    # but a held one drawn into an earlier window is).
    assert ledger.advance(key, window, at(60), at(20), forward_only=True) is None
    assert store.get_watermark(ACCOUNT, key) == at(30)
    r = report()
    r.applied = 7
    ledger.checkpoint(r, at(60))
    (run,) = store.last_runs()
    assert run.status == "running" and run.counts["applied"] == 7
    # The end of the run writes its final counts; a checkpoint after it changes nothing.
    ledger.end(r, "ok", None, at(61))
    r.applied = 9
    store.update_run_counts(run.id, {"applied": 9})
    assert store.last_runs()[0].counts["applied"] == 7


def test_the_applies_of_a_killed_run_are_counted_in_it_at_the_next_start(
    store: StateStore, ruleset: RuleSet
) -> None:
    killed = cycle(store, ruleset, 60)
    r = report()
    r.applied = 1
    killed.checkpoint(r, at(60))  # its last checkpoint: 1 apply
    for n in range(3):  # then 3 applies recorded, and the process was killed
        store.record_applied(
            ACCOUNT, f"m{n}", "t", rule_id="r", rule_hash="h", mode="enforce", at=at(61 + n)
        )
    (run,) = store.last_runs()
    assert run.counts["applied"] == 1 and run.finished_at is None
    cycle(store, ruleset, 70)  # the next start finds it cut off, and counts its applies
    (before,) = [x for x in store.recent_runs() if x.id == run.id]
    assert before.counts["applied"] == 3 and before.status == "running"


def test_a_lost_state_has_no_killed_run_to_count(store: StateStore, ruleset: RuleSet) -> None:
    assert store.count_cut_off_applies(ACCOUNT, at(60)) == 0
