"""A claim is withdrawn only when no attempt of its apply can have reached Mimecast.

On a shared ledger every apply is claimed first; a claim whose apply surely
never went out is deleted (so the pair can be applied later), any other stays
and is read back once the lease moves. An attempt sent and retried (its answer
lost), then refused at the next attempt because the lease may have run out,
left nothing sent *by that refused attempt* but the first one may have applied
the tag: withdrawing it let the next owner apply the pair a second time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from tagger.engine.apply import _apply
from tagger.engine.options import NO_HOOKS
from tagger.engine.plan import Action
from tagger.engine.tally import CycleReport
from tagger.mimecast.clearance import Clearance, Withheld
from tagger.mimecast.errors import RateLimited

NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)
ACTION = Action("m1", "st-1", "Review/Needs triage", "r1", "hash", "enforce")


class Lease:
    """A lease that grants claims (at the send) and refuses every send once ``valid`` is False."""

    def __init__(self) -> None:
        self.valid = True
        self.withdrawn: list[tuple[str, str]] = []
        self.claimed: list[tuple[str, str, str]] = []

    async def withdraw(self, message_id: str, tag_id: str) -> None:
        self.withdrawn.append((message_id, tag_id))

    def clearance(
        self, inner: Clearance | None, pair: tuple[str, str, str] | None = None
    ) -> Clearance:
        @contextlib.contextmanager
        def cleared() -> Iterator[None]:
            if not self.valid:
                raise Withheld("the lease may have run out", rail=False)
            assert pair is not None
            self.claimed.append(pair)
            yield

        return cleared


class Client:
    """Runs ``steps`` as the requester does: each step enters the clearance first."""

    def __init__(self, steps: Sequence[Callable[[Lease], None]], lease: Lease) -> None:
        self.steps = steps
        self.lease = lease

    async def apply_smart_tag(
        self, message_id: str, tag_id: str, clearance: Callable[[], AbstractContextManager[None]]
    ) -> None:
        for step in self.steps:
            with clearance():
                step(self.lease)


def _run(steps: Sequence[Callable[[Lease], None]]) -> tuple[Lease, Any]:
    lease = Lease()
    account = SimpleNamespace(
        name="tenant00", guard=None, lease=lease, client=Client(steps, lease), ledger=None
    )
    report = CycleReport("tenant00", False, NOW, NOW)
    result = asyncio.run(
        _apply(account, ACTION, report, lambda: NOW, NO_HOOKS, set(), None)  # type: ignore[arg-type]
    )
    return lease, result


def _answer_lost(lease: Lease) -> None:
    """The attempt went out; its answer never came, and the lease ran out meanwhile."""
    lease.valid = False


def test_a_retry_refused_after_an_attempt_went_out_keeps_the_claim() -> None:
    lease, (_action, failure) = _run([_answer_lost, lambda _lease: None])
    assert failure is not None and failure.transient
    assert lease.withdrawn == []  # in doubt: read back, never re-sent blindly


def test_an_apply_refused_before_anything_went_out_withdraws_the_claim() -> None:
    def refused(lease: Lease) -> None:
        raise AssertionError("never reached: the clearance refused the only attempt")

    lease = Lease()
    lease.valid = False
    account = SimpleNamespace(
        name="tenant00", guard=None, lease=lease, client=Client([refused], lease), ledger=None
    )
    report = CycleReport("tenant00", False, NOW, NOW)
    asyncio.run(_apply(account, ACTION, report, lambda: NOW, NO_HOOKS, set(), None))  # type: ignore[arg-type]
    assert lease.withdrawn == [("m1", "st-1")]


def test_a_single_attempt_refused_by_the_service_withdraws_the_claim() -> None:
    def throttled(_lease: Lease) -> None:
        raise RateLimited("429", status=429)

    lease, (_action, failure) = _run([throttled])
    assert failure is not None
    assert lease.withdrawn == [("m1", "st-1")]


def test_a_refusal_after_an_earlier_attempt_went_out_keeps_the_claim() -> None:
    def sent(_lease: Lease) -> None:
        pass  # went out; the requester saw a lost answer and retried

    def throttled(_lease: Lease) -> None:
        raise RateLimited("429", status=429)

    lease, _result = _run([sent, throttled])
    assert lease.withdrawn == []
