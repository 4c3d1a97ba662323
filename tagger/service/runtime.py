"""Composition of one runnable set-up: config, compiled rules, clients and tag ids.

Everything a cycle needs is built here from a :class:`~tagger.config.Config`,
all-or-nothing: a set-up with any problem (rules, unknown tags, credentials)
raises :class:`~tagger.errors.UserError` and the caller keeps what it had.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import tempfile
from collections.abc import Callable, Iterator, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

import structlog

from tagger.config import Config
from tagger.engine.cycle import Account, CycleOptions, run_account_cycle
from tagger.engine.ports import CycleObserver
from tagger.engine.report import CycleReport
from tagger.engine.scope import SearchScope
from tagger.engine.window import Window, WindowPolicy
from tagger.errors import Problem, UserError
from tagger.mimecast.client import MimecastClient
from tagger.mimecast.errors import AuthenticationError, KeyBindingExpired, MimecastError
from tagger.mimecast.models import SmartTag
from tagger.mimecast.retention import warn_long_lookbacks
from tagger.rules import RuleSet, check_tags, load_rules, resolve_tags
from tagger.rules.refuse import refuse_unknown_tag_rules
from tagger.state import OverlayState, StateStore
from tagger.state.api import StateAPI

log = structlog.get_logger("tagger.service")


@dataclass
class AccountRuntime:
    """One account's live client, resolved tag ids and search scope (what it learned)."""

    name: str
    client: MimecastClient
    tag_ids: dict[str, str]
    tags: list[SmartTag]
    stopped_reason: str | None = None
    scope: SearchScope | None = None


@dataclass
class Runtime:
    """A loaded configuration with its rule set and connected accounts."""

    config: Config
    ruleset: RuleSet
    accounts: list[AccountRuntime]
    stack: AsyncExitStack = field(repr=False)

    async def close(self) -> None:
        """Close every client."""
        await self.stack.aclose()


def load_ruleset(config: Config) -> RuleSet:
    """Load and compile the rules the config names; raises UserError with every problem."""
    return load_rules(list(config.rule_paths))


async def open_runtime(config: Config, ruleset: RuleSet | None = None) -> Runtime:
    """Connect every account and resolve every rule's tags to Smart Tag ids.

    Given a loaded config (and optionally an already-compiled rule set);
    returns the runtime. Raises :class:`UserError` when rules are invalid or
    name tags an account does not have (located in the rule files), and
    :class:`MimecastError` when an account cannot be reached.
    """
    rules = ruleset if ruleset is not None else load_ruleset(config)
    lookbacks = [(r.id, r.lookback) for r in rules.rules if r.lookback is not None]
    warn_long_lookbacks(config.window.initial_lookback, lookbacks)
    stack = AsyncExitStack()
    accounts: list[AccountRuntime] = []
    problems: list[Problem] = []
    try:
        for account in config.accounts:
            client = await stack.enter_async_context(MimecastClient(account.to_settings()))
            tags = await client.list_smart_tags()
            if not config.strict_tags:
                # Only the rules naming tags this account lacks are left out (logged).
                rules = refuse_unknown_tag_rules(rules, tags, account.name)
            found = check_tags(rules, tags)
            for problem in found:
                problems.append(
                    Problem(
                        f"{problem.message} (account {account.name})",
                        file=problem.file,
                        line=problem.line,
                        column=problem.column,
                        path=problem.path,
                        severity=problem.severity,
                        hint=problem.hint,
                    )
                )
            if any(p.severity == "error" for p in found):
                continue
            resolved = resolve_tags(rules, tags)
            ids = {ref: tag.id for ref, tag in resolved.items()}
            scope = SearchScope(account.name, account.domains, account.search_scope)
            accounts.append(AccountRuntime(account.name, client, ids, list(tags), scope=scope))
        if any(p.severity == "error" for p in problems):
            raise UserError(problems, "rules name Smart Tags the account does not have")
    except BaseException:
        await stack.aclose()
        raise
    return Runtime(config, rules, accounts, stack)


def retention(config: Config, ruleset: RuleSet) -> timedelta:
    """Return how long state rows are kept: the longest look-back any search can make.

    That is the longest of the first-start look-back, the catch-up limit and
    every rule's own look-back, plus the overlap; rows older than this can no
    longer be reached by a scheduled cycle (a margin of a day covers clock
    changes). Pure.
    """
    w = config.window
    rule_lookbacks = [r.lookback for r in ruleset.rules if r.lookback is not None]
    longest = max([w.initial_lookback, w.max_catchup, *rule_lookbacks])
    return longest + w.overlap + timedelta(days=1)


def cycle_options(
    config: Config,
    *,
    dry_run: bool,
    window: Window | None = None,
    skip_queries: frozenset[str] = frozenset(),
) -> CycleOptions:
    """Return the cycle options the config asks for (``window``: a fixed span, no watermarks)."""
    w = config.window
    policy = WindowPolicy(
        overlap=w.overlap,
        ingestion_delay=w.ingestion_delay,
        initial_lookback=w.initial_lookback,
        max_catchup=w.max_catchup,
        split_min=w.split_min,
    )
    return CycleOptions(
        policy=policy,
        search_cap=w.search_cap,
        max_failures=config.max_failures,
        dry_run=dry_run,
        window=window,
        advance_watermark=window is None,
        skip_queries=skip_queries,
    )


async def run_cycle(
    runtime: Runtime,
    state: StateAPI,
    options: CycleOptions,
    now: Callable[[], datetime],
    stop: asyncio.Event | None = None,
    kind: str = "cycle",
    observer: CycleObserver | None = None,
) -> list[CycleReport]:
    """Run one cycle for every active account concurrently; returns their reports.

    An account whose key binding expired is stopped with a clear error while
    the others go on. An account whose credentials or permissions are refused
    (HTTP 401/403) fails this cycle as a whole: its watermarks hold, no
    message is set aside, and the next cycle tries again. Other failures of
    one account are reported in its report (``account_error`` when the cycle
    could not run). Each account's run is recorded in the state's run history.
    """

    async def one(acct: AccountRuntime) -> CycleReport:
        store = state
        opts = options
        if cut_off(store, acct.name):
            # Its last applies may have reached Mimecast unrecorded: look before applying.
            opts = replace(options, verify_present=True)
            log.info("previous_run_cut_off", account=acct.name, check="tags already present")
        run_id = store.start_run(kind, acct.name, now(), options.dry_run)
        account = Account(
            acct.name, acct.client, runtime.ruleset, acct.tag_ids, store, scope=acct.scope
        )
        status, error = "ok", None
        try:
            report = await run_account_cycle(account, opts, now, stop, observer)
        except KeyBindingExpired as exc:
            acct.stopped_reason = str(exc)
            log.error("account_stopped", account=acct.name, error=str(exc))
            report = CycleReport(acct.name, options.dry_run, now(), now())
            report.errors.append(str(exc))
            report.account_error = str(exc)
            status, error = "stopped", str(exc)
        except AuthenticationError as exc:
            log.error(
                "account_cycle_refused",
                account=acct.name,
                error=str(exc),
                retry="next cycle; watermarks held, no message set aside",
            )
            report = CycleReport(acct.name, options.dry_run, now(), now())
            report.errors.append(str(exc))
            report.account_error = str(exc)
            status, error = "failed", str(exc)
        except MimecastError as exc:
            log.error("cycle_failed", account=acct.name, error=str(exc))
            report = CycleReport(acct.name, options.dry_run, now(), now())
            report.errors.append(str(exc))
            report.account_error = str(exc)
            status, error = "failed", str(exc)
        if status == "ok" and (report.errors or report.failed):
            status = "partial"
        if status == "ok" and report.interrupted:
            status = "interrupted"
        store.finish_run(run_id, now(), _counts(report), status, error)
        return report

    active = [a for a in runtime.accounts if a.stopped_reason is None]
    return list(await asyncio.gather(*(one(a) for a in active)))


def cut_off(state: StateAPI, account: str) -> bool:
    """Return True when the latest run of ``account`` did not complete.

    A run left unfinished (the process was killed, or the cycle crashed) may
    have applied tags it never recorded; an interrupted one, or one that an
    account-level error stopped part-way, stopped before re-checking them.
    Either way the next cycle must look at the tags already on a message
    before applying.
    """
    return any(
        r.account == account
        and (r.finished_at is None or r.status in ("interrupted", "failed", "stopped"))
        for r in state.last_runs()
    )


def _counts(report: CycleReport) -> Mapping[str, int]:
    """Return the counts of a report that the run history keeps."""
    return {
        "found": report.messages_found,
        "scanned": report.scanned,
        "info_calls": report.info_calls,
        "matched": report.matched,
        "planned": report.planned,
        "applied": report.applied,
        "failed": report.failed,
        "set_aside": len(report.set_aside),
        "search_calls": report.search_calls,
        "window_splits": report.window_splits,
        "saturated_windows": report.saturated,
    }


@contextlib.contextmanager
def open_state(path: Path, *, dry_run: bool) -> Iterator[StateAPI]:
    """Open the state a command works on, and close it afterwards.

    Live: the store, holding the single-writer lock (raises StateLocked when
    another process has it). Dry run: an :class:`OverlayState` that keeps every
    write in memory, over the file opened read-only and without the lock (so a
    dry run works next to a running daemon), or over an empty throw-away store
    when the file does not exist yet; a dry run never creates or changes the
    state file. Raises StateError when the file is unusable.
    """
    if not dry_run:
        store = StateStore.open(path)
        try:
            yield store
        finally:
            store.close()
        return
    with contextlib.ExitStack() as stack:
        if path.exists():
            base = StateStore.open(path, lock=False, readonly=True)
        else:
            scratch = stack.enter_context(tempfile.TemporaryDirectory(prefix="tagger-dry-run-"))
            base = StateStore.open(Path(scratch) / "state.db", lock=False)
        stack.callback(base.close)
        overlay = OverlayState(base)
        stack.callback(overlay.close)
        yield overlay


def stop_on_signals(stop: asyncio.Event) -> None:
    """Make SIGTERM and SIGINT set ``stop`` (call inside the running event loop).

    Work in flight then finishes and is recorded instead of being cut off.
    """
    loop = asyncio.get_running_loop()

    def requested(name: str) -> None:
        log.info("stop_requested", signal=name)
        stop.set()

    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, requested, sig.name)
