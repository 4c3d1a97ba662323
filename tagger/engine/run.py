"""The engine's one entry per cycle: each active account from the ledger's begin to its end.

:func:`run_cycle` is what ``once``, ``backfill`` and the daemon call (through
their session); the service only decides when it runs and reports what it
returns. For each account it begins the run in the ledger, prepares the rails
(preflight and guard), runs the account's cycle
(:func:`tagger.engine.cycle.run_account_cycle`), turns an error that stopped
the cycle into the run's status, keeps the rules' figures for the rails, and
ends the run in the ledger.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from datetime import datetime

import structlog

from tagger.engine.cycle import run_account_cycle
from tagger.engine.ledger import Ledger
from tagger.engine.options import NO_HOOKS, Account, AccountRuntime, CycleOptions, Hooks, Runtime
from tagger.engine.rails import PreflightFailed, prepare, record
from tagger.engine.sends import Sends
from tagger.engine.tally import CycleReport
from tagger.engine.tenancy import READ_BACK_HASH, AccountLease, Claim
from tagger.mimecast.errors import AuthenticationError, KeyBindingExpired, MimecastError
from tagger.state import StateStore
from tagger.state.errors import LeaseLost, StateError
from tagger.state.fence import FENCE

__all__ = ["run_account", "run_cycle"]

log = structlog.get_logger("tagger.engine")

# What stops one account's cycle as a whole (everything else is counted per
# message or per query inside it).
CYCLE_ERRORS = (PreflightFailed, KeyBindingExpired, AuthenticationError, MimecastError)


async def run_cycle(
    runtime: Runtime,
    state: StateStore,
    options: CycleOptions,
    now: Callable[[], datetime],
    stop: asyncio.Event | None = None,
    kind: str = "cycle",
    hooks: Hooks = NO_HOOKS,
    verify: frozenset[str] = frozenset(),
    sends: Sends | None = None,
) -> list[CycleReport]:
    """Run one cycle for every active account concurrently; returns their reports.

    A dry run is one whose state is an in-memory copy (the session decided
    when it opened it). The state file is checked to still be the one opened,
    before and after: StateGone when it was deleted or replaced. A live cycle
    bumps the state's generation (written to the marker before the first
    apply, to the state once every account's run has ended). The accounts
    named in ``verify`` read message info before every apply, as after a
    cut-off run; ``sends`` tracks the process's applies under way (for
    ``tagger pause`` to wait on). See :func:`run_account` for what happens per account.
    """
    state.check_file()
    if state.dialect == "postgresql" and not state.dry_run and runtime.tenancy is None:
        # Several nodes may share this ledger: never write it without the accounts' leases.
        raise StateError("a live cycle on a PostgreSQL ledger needs this node's cluster leases")
    # Before the first apply, the marker says which generation this cycle writes:
    # a copy of the file taken from now on is seen as older (tagger.state.generation).
    generation = None if state.dry_run else state.begin_generation()
    active = [a for a in runtime.accounts if a.stopped_reason is None]
    leases = {a.name: _lease(runtime, a.name) for a in active}
    held = [a for a in active if runtime.tenancy is None or leases[a.name] is not None]
    for acct in active:
        if acct not in held:
            log.info(
                "account_not_held",
                account=acct.name,
                why="another node holds its lease (or this node is handing it back): not run here",
            )
    reports = list(
        await asyncio.gather(
            *(
                run_account(
                    runtime,
                    a,
                    state,
                    options,
                    now,
                    stop,
                    kind,
                    hooks,
                    a.name in verify,
                    sends,
                    leases[a.name],
                )
                for a in held
            )
        )
    )
    # Deleted during the cycle: what it recorded went to a file nobody reads again.
    state.check_file()
    if generation is not None:
        state.commit_generation(generation, now())
    return reports


async def run_account(
    runtime: Runtime,
    acct: AccountRuntime,
    state: StateStore,
    options: CycleOptions,
    now: Callable[[], datetime],
    stop: asyncio.Event | None = None,
    kind: str = "cycle",
    hooks: Hooks = NO_HOOKS,
    verify: bool = False,
    sends: Sends | None = None,
    lease: AccountLease | None = None,
) -> CycleReport:
    """Run one account's cycle, recorded in the ledger as a run; returns its report.

    With a ``lease`` (several nodes on one ledger), every ledger write of the
    cycle is fenced by it, claims in doubt are read back first, and a lease
    found lost ends the cycle at once (nothing more is written or sent for
    the account: the node that took it over goes on).

    An account whose key binding expired is stopped (``acct.stopped_reason``)
    with a clear error while the others go on. An account whose credentials
    or permissions are refused (HTTP 401/403) fails this cycle as a whole:
    its watermarks hold, no message is set aside, and the next cycle tries
    again. A failed preflight applies nothing. Other failures are counted in
    the report (``account_error`` when the cycle could not run). The run's
    status is ``ok``, ``partial`` (errors or failed messages), ``interrupted``,
    ``failed`` or ``stopped``.
    """
    if lease is None:
        return await _run_account(
            runtime, acct, state, options, now, stop, kind, hooks, verify, sends, None
        )
    token = FENCE.set(lease.fence)
    try:
        with lease.using():
            return await _run_account(
                runtime, acct, state, options, now, stop, kind, hooks, verify, sends, lease
            )
    except LeaseLost as exc:
        log.warning("account_cycle_cut_off", account=acct.name, why=str(exc))
        at = now()
        report = CycleReport(acct.name, False, at, at)
        report.errors.append(str(exc))
        return report
    finally:
        FENCE.reset(token)


async def _run_account(
    runtime: Runtime,
    acct: AccountRuntime,
    state: StateStore,
    options: CycleOptions,
    now: Callable[[], datetime],
    stop: asyncio.Event | None,
    kind: str,
    hooks: Hooks,
    verify: bool,
    sends: Sends | None,
    lease: AccountLease | None,
) -> CycleReport:
    """Run one account's cycle (see :func:`run_account`)."""
    ruleset = runtime.ruleset_of(acct)
    ledger = Ledger(state, acct.name, ruleset)
    ledger.begin(kind, now(), verify=verify)
    if lease is not None:
        await _read_back(lease, acct, ledger, now)
    guard = None
    error: str | None = None
    try:
        guard = prepare(
            runtime.config,
            ruleset,
            ledger,
            acct.tag_ids,
            acct.client.server_date,
            now,
            sends,
        )
        account = Account(
            acct.name,
            acct.client,
            ruleset,
            acct.tag_ids,
            ledger,
            scope=acct.scope,
            guard=guard,
            lease=lease,
        )
        report = await run_account_cycle(account, options, now, stop, hooks)
        status = _status(report)
    except CYCLE_ERRORS as exc:
        report, status = _cycle_failed(acct, exc, ledger.dry_run, now())
        error = str(exc)
    record(ledger, guard, report, now())
    ledger.end(report, status, error, now())
    return report


def _lease(runtime: Runtime, account: str) -> AccountLease | None:
    """Return this node's lease of ``account`` (None without a cluster or when not held)."""
    return None if runtime.tenancy is None else runtime.tenancy.lease(account)


async def _read_back(
    lease: AccountLease, acct: AccountRuntime, ledger: Ledger, now: Callable[[], datetime]
) -> None:
    """Read back the claims an earlier owner left in doubt; record those found tagged."""

    def record(found: Sequence[Claim]) -> None:
        for claim in found:
            ledger.state.record_applied(
                acct.name,
                claim.message_id,
                claim.tag_id,
                rule_id=claim.rule_id,
                rule_hash=READ_BACK_HASH,
                mode="enforce",
                at=now(),
            )

    try:
        await lease.resolve(acct.client, record)
    except (MimecastError, StateError) as exc:
        if isinstance(exc, LeaseLost):
            raise
        log.warning("claims_read_back_failed", account=acct.name, error=str(exc))


def _status(report: CycleReport) -> str:
    """Return the status of a cycle that ran: ``ok``, ``partial`` or ``interrupted``."""
    if report.errors or report.failed:
        return "partial"
    return "interrupted" if report.interrupted else "ok"


def _cycle_failed(
    acct: AccountRuntime, exc: Exception, dry_run: bool, at: datetime
) -> tuple[CycleReport, str]:
    """Log why ``acct``'s cycle could not run; return its report and the run's status."""
    report = CycleReport(acct.name, dry_run, at, at)
    report.errors.append(str(exc))
    report.account_error = str(exc)
    status = "failed"
    if isinstance(exc, PreflightFailed):
        report.preflight = exc.problems
    elif isinstance(exc, KeyBindingExpired):
        acct.stopped_reason = str(exc)
        log.error("account_stopped", account=acct.name, error=str(exc))
        status = "stopped"
    elif isinstance(exc, AuthenticationError):
        log.error(
            "account_cycle_refused",
            account=acct.name,
            error=str(exc),
            retry="next cycle; watermarks held, no message set aside",
        )
    else:
        log.error("cycle_failed", account=acct.name, error=str(exc))
    return report, status
