"""Stop requests and their acknowledgement, the sends under way, and write-ahead audit records."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tagger.audit.entry import INTENT, intent_record
from tagger.audit.journal import Journal
from tagger.audit.records import AuditRecord, read_records, resolve_intents
from tagger.engine.guard import Guard
from tagger.engine.ledger import Ledger
from tagger.engine.sends import Sends
from tagger.mimecast.clearance import Withheld
from tagger.rails.budget import Budget, Limits
from tagger.rules import RuleSet
from tagger.state import StateStore
from tagger.state.railstore import PAUSE_ALL, PauseRow
from tests.support.ledgers import BACKENDS, make_ledger
from tests.support.ledgers import Ledger as LedgerAt

T0 = datetime(2026, 12, 1, 10, 0, tzinfo=UTC)


@pytest.fixture(params=BACKENDS)
def ledger_at(request: pytest.FixtureRequest, tmp_path: Path) -> LedgerAt:
    return make_ledger(request, tmp_path)


def test_stop_requests_are_numbered_and_acknowledgements_never_go_back(
    ledger_at: LedgerAt,
) -> None:
    with ledger_at.open() as daemon, ledger_at.open(lock=False) as operator:
        assert daemon.stop_requested() == 0 and daemon.stop_acknowledged() == 0
        assert operator.request_stop(T0) == 1
        assert operator.request_stop(T0) == 2
        assert daemon.stop_requested() == 2
        daemon.acknowledge_stop(2, T0)
        daemon.acknowledge_stop(1, T0)
        assert operator.stop_acknowledged() == 2
        # The stop rows are not the kill switch.
        assert operator.switch(PAUSE_ALL) is False


def test_a_rule_pause_made_by_another_connection_is_seen_at_once(ledger_at: LedgerAt) -> None:
    with ledger_at.open() as daemon:
        assert not daemon.rule_paused("acct", "r")
        with ledger_at.open(lock=False) as operator:
            operator.add_pause(PauseRow("acct", "r", "paused by hand", 0, 0, "manual", T0))
        assert daemon.rule_paused("acct", "r")
        assert not daemon.rule_paused("other", "r")


def test_drained_waits_only_for_the_sends_under_way_at_the_mark() -> None:
    async def scenario() -> list[str]:
        sends = Sends()
        seen: list[str] = []
        first_done = asyncio.Event()

        async def send(name: str, until: asyncio.Event) -> None:
            with sends.one():
                await until.wait()
            seen.append(f"{name} ended")

        first = asyncio.ensure_future(send("first", first_done))
        await asyncio.sleep(0)
        mark = sends.mark()
        later_done = asyncio.Event()
        later = asyncio.ensure_future(send("later", later_done))
        await asyncio.sleep(0)
        assert sends.under_way() == 2 and sends.pending(mark) == 1
        waiting = asyncio.ensure_future(sends.drained(mark))
        await asyncio.sleep(0.02)
        assert not waiting.done()
        first_done.set()
        await asyncio.wait_for(waiting, 5)
        seen.append("drained")
        later_done.set()
        await asyncio.gather(first, later)
        return seen

    assert asyncio.run(scenario()) == ["first ended", "drained", "later ended"]


def _guard(tmp_path: Path, store: StateStore, journal: Journal | None = None) -> Guard:
    ledger = Ledger(store, "acct", RuleSet(()))
    budget = Budget({"r": Limits(per_cycle=1)}, {})
    return Guard(ledger, budget, sends=Sends(), journal=journal)


def test_the_clearance_reads_the_kill_switch_and_the_pause_as_they_are_now(
    tmp_path: Path, ledger_at: LedgerAt
) -> None:
    with ledger_at.open() as store, ledger_at.open(lock=False) as operator:
        guard = _guard(tmp_path, store)
        with guard.clearance("r")():
            assert guard.sends is not None and guard.sends.under_way() == 1
        operator.add_pause(PauseRow("acct", "r", "paused by hand", 0, 0, "manual", T0))
        with pytest.raises(Withheld, match="rule 'r' is paused") as why:
            guard.clearance("r")().__enter__()
        assert why.value.rail
        operator.lift_pause("r")
        operator.set_switch(PAUSE_ALL, True, T0)
        with pytest.raises(Withheld, match="kill switch"):
            guard.clearance("r")().__enter__()


def test_a_pause_for_the_limit_does_not_withhold_the_applies_reserved_within_it(
    tmp_path: Path,
) -> None:
    with StateStore.open(tmp_path / "state.db") as store:
        guard = _guard(tmp_path, store)
        assert guard.reserve("r", T0)  # the one apply the limit allows
        assert not guard.reserve("r", T0)  # the next one pauses the rule (in state too)
        assert store.rule_paused("acct", "r")
        with guard.clearance("r")():
            pass


def _intent(run: str = "run-1", rule: str = "r", message: str = "m1") -> dict[str, object]:
    return intent_record(
        account="acct",
        run_id=run,
        at=T0,
        rule=rule,
        rule_hash="h",
        message_id=message,
        received=T0 - timedelta(minutes=5),
        sender="a@example.com",
        recipients=("b@example.com",),
        subject="hello \udcff\x00",
        tag="Review/Needs triage",
        tag_id="t1",
    )


def test_the_intent_is_on_disk_before_the_clearance_returns_and_mail_text_is_made_safe(
    tmp_path: Path,
) -> None:
    audit = tmp_path / "audit.jsonl"
    with StateStore.open(tmp_path / "state.db") as store:
        guard = _guard(tmp_path, store, Journal(audit))
        with guard.clearance("r", _intent)():
            lines = audit.read_bytes().decode("utf-8").splitlines()
            assert len(lines) == 1
    record = json.loads(lines[0])
    assert record["record"] == "intent" and record["outcome"] == INTENT
    assert record["subject"] == "hello \ufffd\ufffd"
    assert oct(audit.stat().st_mode & 0o777) == "0o600"


def test_an_intent_that_cannot_be_written_withholds_the_apply_and_says_why(
    tmp_path: Path,
) -> None:
    with StateStore.open(tmp_path / "state.db") as store:
        guard = _guard(tmp_path, store, Journal(Path("/dev/full")))
        with pytest.raises(Withheld) as why:
            guard.clearance("r", _intent)().__enter__()
    assert not why.value.rail
    assert "cannot write the audit file /dev/full" in why.value.reason
    assert "No space left on device" in why.value.reason
    assert "applies stop until it can be written" in why.value.reason
    assert guard.sends is not None and guard.sends.under_way() == 0


def test_a_write_cut_short_by_a_file_size_limit_leaves_no_torn_line(tmp_path: Path) -> None:
    audit = tmp_path / "audit.jsonl"
    audit.write_text('{"rule": "r", "message_id": "m0", "outcome": "applied"}\n')
    size = audit.stat().st_size
    script = (
        "import resource, sys\n"
        "from pathlib import Path\n"
        "from tagger.audit.journal import Journal\n"
        f"resource.setrlimit(resource.RLIMIT_FSIZE, ({size + 40}, {size + 40}))\n"
        "try:\n"
        "    Journal(Path(sys.argv[1])).append({'subject': 'x' * 400})\n"
        "except OSError as exc:\n"
        "    print(exc.strerror)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(audit)],
        capture_output=True,
        text=True,
        check=False,
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2])},
    )
    assert done.stdout.strip() == "File too large", done.stderr
    assert audit.stat().st_size == size


def _record(outcome: str, run: str, minute: int, message: str = "m1") -> AuditRecord:
    return AuditRecord(
        rule="r",
        message_id=message,
        mode="live",
        outcome=outcome,
        account="acct",
        run_id=run,
        timestamp=T0 + timedelta(minutes=minute),
    )


def test_an_intent_followed_by_its_outcome_counts_once() -> None:
    records = [
        _record(INTENT, "run-1", 0),
        _record(INTENT, "run-1", 0),  # a second tag of the same rule
        _record("applied", "run-1", 1),
    ]
    assert [r.outcome for r in resolve_intents(records)] == ["applied"]


def test_an_intent_left_by_a_killed_run_is_applied_when_the_next_run_finds_the_tag() -> None:
    records = [
        _record(INTENT, "run-1", 0),
        _record(INTENT, "run-1", 0, message="m2"),
        _record("already-tagged", "run-2", 5),
        _record("failed", "run-2", 5, message="m2"),
    ]
    resolved = resolve_intents(records)
    assert [(r.message_id, r.outcome, r.run_id) for r in resolved] == [
        ("m1", "applied", "run-1"),
        ("m2", "failed", "run-2"),
    ]


def test_an_attempt_tried_again_by_a_later_run_counts_once() -> None:
    records = [
        _record(INTENT, "run-1", 0),
        _record(INTENT, "run-2", 3),
        _record("already-tagged", "run-3", 6),
    ]
    resolved = resolve_intents(records)
    assert [(r.outcome, r.run_id) for r in resolved] == [("applied", "run-2")]


def test_an_intent_with_no_outcome_stays_applying_and_order_of_files_does_not_matter(
    tmp_path: Path,
) -> None:
    newer, older = tmp_path / "audit.jsonl", tmp_path / "audit.jsonl.1"
    older.write_text(json.dumps(_intent(message="m1")) + "\n" + json.dumps(_intent(message="m2")))
    outcome = _intent(message="m1") | {
        "record": None,
        "outcome": "applied",
        "timestamp": (T0 + timedelta(minutes=1)).isoformat(),
    }
    newer.write_text(json.dumps(outcome) + "\n")
    records, problems = read_records([newer, older])
    assert problems == []
    assert sorted((r.message_id, r.outcome) for r in records) == [
        ("m1", "applied"),
        ("m2", INTENT),
    ]
