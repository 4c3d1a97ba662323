"""Composition of one runnable set-up: config, compiled rules, clients and tag ids.

Everything a cycle needs is built here from a :class:`~tagger.config.Config`,
all-or-nothing: a set-up with any problem (rules, unknown tags, credentials)
raises :class:`~tagger.errors.UserError` and the caller keeps what it had.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator
from contextlib import AsyncExitStack
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog

from tagger.config import Config
from tagger.engine.cycle import NO_HOOKS, Account, CycleOptions, Hooks, run_account_cycle
from tagger.engine.ledger import Ledger
from tagger.engine.ledger import retention as ledger_retention
from tagger.engine.scope import SearchScope
from tagger.engine.tally import CycleReport
from tagger.engine.window import Window, WindowPolicy
from tagger.errors import Problem, UserError
from tagger.mimecast.client import MimecastClient
from tagger.mimecast.errors import AuthenticationError, KeyBindingExpired, MimecastError
from tagger.mimecast.models import SmartTag
from tagger.mimecast.retention import warn_long_lookbacks
from tagger.rules import RuleSet, check_tags, load_rules, resolve_tags
from tagger.rules.refuse import refuse_unknown_tag_rules
from tagger.service.rails import PreflightFailed, prepare, record
from tagger.state import StateStore

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


def utc_now() -> datetime:
    """Return the current time (UTC, aware)."""
    return datetime.now(UTC)


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
            client = await stack.enter_async_context(MimecastClient(account.settings))
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
    every rule's own look-back, plus the overlap and a day (see
    :func:`tagger.engine.ledger.retention`). Pure.
    """
    w = config.window
    longest = max(w.initial_lookback, w.max_catchup, ruleset.longest_lookback or timedelta(0))
    return ledger_retention(longest, w.overlap)


def cycle_options(
    config: Config,
    *,
    dry_run: bool,
    window: Window | None = None,
    skip_queries: frozenset[str] = frozenset(),
    interval: timedelta | None = None,
) -> CycleOptions:
    """Return the cycle options the config asks for.

    ``window`` fixes the span (no watermarks); ``interval`` lets the queries
    whose rules set a longer ``schedule`` wait. Audit entries (and their
    explanations) are kept only when the config names an audit file.
    """
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
        interval=interval,
        audit=config.audit_path is not None,
    )


async def run_cycle(
    runtime: Runtime,
    state: StateStore,
    options: CycleOptions,
    now: Callable[[], datetime],
    stop: asyncio.Event | None = None,
    kind: str = "cycle",
    hooks: Hooks = NO_HOOKS,
    verify: frozenset[str] = frozenset(),
) -> list[CycleReport]:
    """Run one cycle for every active account concurrently; returns their reports.

    The state file is checked to still be the one opened, before and after:
    StateGone when it was deleted or replaced. The accounts named in
    ``verify`` read message info before every apply, as after a cut-off run.

    An account whose key binding expired is stopped with a clear error while
    the others go on. An account whose credentials or permissions are refused
    (HTTP 401/403) fails this cycle as a whole: its watermarks hold, no
    message is set aside, and the next cycle tries again. Other failures of
    one account are reported in its report (``account_error`` when the cycle
    could not run). Each account's run is recorded in the state's run history.
    """

    async def one(acct: AccountRuntime) -> CycleReport:
        ledger = Ledger(state, acct.name, runtime.ruleset)
        ledger.begin(kind, options.dry_run, now(), verify=acct.name in verify)
        account = Account(
            acct.name, acct.client, runtime.ruleset, acct.tag_ids, ledger, scope=acct.scope
        )
        status, error = "ok", None
        guard = None
        try:
            guard = prepare(
                runtime.config,
                runtime.ruleset,
                ledger,
                acct.tag_ids,
                acct.client.server_date,
                now,
                dry_run=options.dry_run,
            )
            account = replace(account, guard=guard)
            report = await run_account_cycle(account, options, now, stop, hooks)
        except PreflightFailed as exc:
            report = _failed(acct.name, options.dry_run, now(), str(exc))
            report.preflight = exc.problems
            status, error = "failed", str(exc)
        except KeyBindingExpired as exc:
            acct.stopped_reason = str(exc)
            log.error("account_stopped", account=acct.name, error=str(exc))
            report = _failed(acct.name, options.dry_run, now(), str(exc))
            status, error = "stopped", str(exc)
        except AuthenticationError as exc:
            log.error(
                "account_cycle_refused",
                account=acct.name,
                error=str(exc),
                retry="next cycle; watermarks held, no message set aside",
            )
            report = _failed(acct.name, options.dry_run, now(), str(exc))
            status, error = "failed", str(exc)
        except MimecastError as exc:
            log.error("cycle_failed", account=acct.name, error=str(exc))
            report = _failed(acct.name, options.dry_run, now(), str(exc))
            status, error = "failed", str(exc)
        if status == "ok" and (report.errors or report.failed):
            status = "partial"
        if status == "ok" and report.interrupted:
            status = "interrupted"
        record(ledger, guard, report, now())
        ledger.end(report, status, error, now())
        return report

    state.check_file()
    active = [a for a in runtime.accounts if a.stopped_reason is None]
    reports = list(await asyncio.gather(*(one(a) for a in active)))
    # Deleted during the cycle: what it recorded went to a file nobody reads again.
    state.check_file()
    return reports


def _failed(account: str, dry_run: bool, at: datetime, error: str) -> CycleReport:
    """Return the report of an account whose cycle could not run."""
    report = CycleReport(account, dry_run, at, at)
    report.errors.append(error)
    report.account_error = error
    return report


@contextlib.contextmanager
def open_state(path: Path, *, dry_run: bool) -> Iterator[StateStore]:
    """Open the state a command works on, and close it afterwards.

    Live: the store, holding the single-writer lock (raises StateLocked when
    another process has it). Dry run: an in-memory copy of the file, read
    without the lock (so a dry run works next to a running daemon) and empty
    when the file does not exist yet; every write goes to the copy, so a dry
    run never creates or changes the state file. Raises StateError when the
    file is unusable.
    """
    store = StateStore.open_copy(path) if dry_run else StateStore.open(path)
    try:
        yield store
    finally:
        store.close()
