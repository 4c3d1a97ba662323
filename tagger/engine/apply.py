"""Applying planned tags: each enforce-mode action the rails allow, recorded at once.

Every apply reserves its rule's budget first (and gives it back when it
fails); a rail (kill switch, paused rule, limit reached) holds the action back
instead. The rails are read again at the moment the request is sent, and the
apply's write-ahead audit record is on disk by then
(:meth:`tagger.engine.guard.Guard.clearance`). Each success is recorded in the
ledger as soon as the service answers, so a stop request or a crash after it
loses nothing.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import AbstractContextManager
from datetime import datetime
from functools import partial
from typing import Any

import structlog

from tagger.audit.entry import intent_record
from tagger.engine.candidate import Failure
from tagger.engine.options import Account, Hooks
from tagger.engine.plan import Action, MessagePlan
from tagger.engine.tally import CycleReport
from tagger.mimecast.clearance import Clearance, Withheld
from tagger.mimecast.errors import (
    ApiFailure,
    AuthenticationError,
    MimecastError,
    QuotaDeferred,
    RateLimited,
    TransportError,
)
from tagger.mimecast.models import TrackedEmail

__all__ = ["apply_plans"]

log = structlog.get_logger("tagger.engine")


async def apply_plans(
    account: Account,
    plans: Sequence[MessagePlan],
    report: CycleReport,
    now: Callable[[], datetime],
    hooks: Hooks,
    about: Mapping[str, TrackedEmail] | None = None,
) -> tuple[dict[str, Failure], set[tuple[str, str]], list[QuotaDeferred]]:
    """Apply every enforce-mode action the rails allow and record each success at once.

    ``about`` gives the search summary of each message (sender, subject) for
    its write-ahead audit record. Returns, per message with a failed apply,
    the failure; the (message, rule) pairs of the actions a rail held back
    (kill switch, paused rule); and the deferrals of applies the quota had no turn for before the
    cycle's bound (their messages are left for the next cycle). An apply whose
    audit record could not be written is a transient failure of its message
    (retried by the next cycle), and the error is added to the report once.
    Every apply runs to its end (and is recorded) before an account-level
    error (:class:`AuthenticationError`) is raised: none is left running
    unobserved, and a stop request after this returns loses nothing.
    """
    held: set[tuple[str, str]] = set()
    actions = [a for plan in plans for a in plan.executable()]
    results = await asyncio.gather(
        *(
            _apply(account, a, report, now, hooks, held, (about or {}).get(a.message_id))
            for a in actions
        ),
        return_exceptions=True,
    )
    for result in results:
        if isinstance(result, BaseException):
            raise result
    errors: dict[str, Failure] = {}
    waits: list[QuotaDeferred] = []
    for action, error in (r for r in results if not isinstance(r, BaseException)):
        if isinstance(error, QuotaDeferred):
            waits.append(error)
        elif error is not None:
            errors.setdefault(action.message_id, error)
            log.error(
                "tag_apply_failed",
                account=account.name,
                message_id=action.message_id,
                rule=action.rule_id,
                tag=action.tag_ref,
                transient=error.transient,
                error=error.error,
            )
    return errors, held, waits


async def _apply(
    account: Account,
    action: Action,
    report: CycleReport,
    now: Callable[[], datetime],
    hooks: Hooks,
    held: set[tuple[str, str]],
    summary: TrackedEmail | None,
) -> tuple[Action, Failure | QuotaDeferred | None]:
    """Apply one action unless a rail holds it (then noted in ``held``); record it at once.

    Returns the action with its failure, or the deferral when the quota had
    no turn for it before the cycle's bound (nothing was sent), or None.
    """
    guard = account.guard
    if guard is not None and (guard.stopped() or not guard.reserve(action.rule_id, now())):
        held.add((action.message_id, action.rule_id))
        report.per_rule(action.rule_id).held += 1
        return action, None
    lease = account.lease
    clearance = None
    if guard is not None:
        intent = partial(_intent, account, action, report, now, summary)
        clearance = guard.clearance(action.rule_id, intent)
    sent = _Sent(None)
    if lease is not None:
        # The pair is claimed at the moment of sending (see SeatLease.clearance).
        pair = (action.message_id, action.tag_id, action.rule_id)
        sent = _Sent(lease.clearance(clearance, pair))
        clearance = sent.clearance
    try:
        await account.client.apply_smart_tag(action.message_id, action.tag_id, clearance)
    except Withheld as why:
        if lease is not None and sent.attempts == 0:
            await lease.withdraw(action.message_id, action.tag_id)
        if guard is not None:
            guard.release(action.rule_id)
        if why.rail:
            held.add((action.message_id, action.rule_id))
            report.per_rule(action.rule_id).held += 1
            return action, None
        if why.reason not in report.errors:
            report.errors.append(why.reason)
            log.error("apply_withheld", account=account.name, error=why.reason)
        return action, Failure(why.reason, transient=True)
    except AuthenticationError:
        raise
    except MimecastError as exc:
        if guard is not None:
            guard.release(action.rule_id)
        if lease is not None and _not_applied(exc) and sent.attempts <= _sent_by_last(exc):
            await lease.withdraw(action.message_id, action.tag_id)
        if isinstance(exc, QuotaDeferred):
            return action, exc
        return action, Failure.of(exc, "apply failed")
    account.ledger.record_applied(action, now())
    report.applied += 1
    report.per_rule(action.rule_id).applied += 1
    hooks.tag_applied(account.name, action.rule_id, action.tag_ref)
    log.debug(
        "tag_applied",
        account=account.name,
        message_id=action.message_id,
        rule=action.rule_id,
        tag=action.tag_ref,
        tag_id=action.tag_id,
    )
    return action, None


class _Sent:
    """A clearance that counts the attempts it let go out (None: every attempt goes out).

    A claim may be withdrawn only when no attempt could have applied the tag:
    a retry refused at the moment of sending (the lease ran out meanwhile)
    says nothing of the attempt before it, whose answer may have been lost.
    """

    def __init__(self, inner: Clearance | None) -> None:
        self.inner = inner
        self.attempts = 0

    @contextlib.contextmanager
    def _cleared(self) -> Iterator[None]:
        if self.inner is None:
            self.attempts += 1
            yield
            return
        with self.inner():
            self.attempts += 1
            yield

    def clearance(self) -> AbstractContextManager[None]:
        """Enter the inner clearance (Withheld passes through), counting the attempt."""
        return self._cleared()


def _sent_by_last(exc: MimecastError) -> int:
    """Return how many counted attempts ``exc``'s own attempt accounts for (0: it went nowhere)."""
    return 0 if isinstance(exc, QuotaDeferred) else 1


def _not_applied(exc: MimecastError) -> bool:
    """Return True when ``exc`` says for sure that the apply did not take place.

    Nothing was sent (a deferral, no connection), the service refused it (429),
    or it answered with a failure. A server error or an answer lost on the way
    leaves the apply uncertain: its claim stays (in doubt if the lease moves).
    """
    if isinstance(exc, TransportError):
        return exc.connect
    return isinstance(exc, QuotaDeferred | RateLimited | ApiFailure | AuthenticationError)


def _intent(
    account: Account,
    action: Action,
    report: CycleReport,
    now: Callable[[], datetime],
    summary: TrackedEmail | None,
) -> dict[str, Any]:
    """Return the write-ahead audit record of ``action`` (see :mod:`tagger.audit.journal`)."""
    return intent_record(
        account=account.name,
        run_id=report.run_id,
        at=now(),
        rule=action.rule_id,
        rule_hash=action.rule_hash,
        message_id=action.message_id,
        received=None if summary is None else summary.received,
        sender="" if summary is None else (summary.from_hdr.email or summary.from_env.email),
        recipients=() if summary is None else tuple(a.email for a in summary.to if a.email),
        subject=None if summary is None else summary.subject,
        tag=action.tag_ref,
        tag_id=action.tag_id,
    )
