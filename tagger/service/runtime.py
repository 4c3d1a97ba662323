"""Composition of one runnable set-up: config, compiled rules, clients and tag ids.

Everything a cycle needs is built here from a :class:`~tagger.config.Config`,
all-or-nothing: a set-up with any problem (rules, unknown tags, credentials)
raises :class:`~tagger.errors.UserError` and the caller keeps what it had.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import datetime

import structlog

from tagger.config import Config
from tagger.engine.cycle import Account, CycleOptions, run_account_cycle
from tagger.engine.report import CycleReport
from tagger.engine.window import Window, WindowPolicy
from tagger.errors import Problem, UserError
from tagger.mimecast.client import MimecastClient
from tagger.mimecast.errors import KeyBindingExpired, MimecastError
from tagger.mimecast.models import SmartTag
from tagger.rules import RuleSet, check_tags, load_rules, resolve_tags
from tagger.state.api import StateAPI

log = structlog.get_logger("tagger.service")


@dataclass
class AccountRuntime:
    """One account's live client and resolved tag ids."""

    name: str
    client: MimecastClient
    tag_ids: dict[str, str]
    tags: list[SmartTag]
    stopped_reason: str | None = None


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
    stack = AsyncExitStack()
    accounts: list[AccountRuntime] = []
    problems: list[Problem] = []
    try:
        for account in config.accounts:
            client = await stack.enter_async_context(MimecastClient(account.to_settings()))
            tags = await client.list_smart_tags()
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
            accounts.append(AccountRuntime(account.name, client, ids, list(tags)))
        if any(p.severity == "error" for p in problems):
            raise UserError(problems, "rules name Smart Tags the account does not have")
    except BaseException:
        await stack.aclose()
        raise
    return Runtime(config, rules, accounts, stack)


def cycle_options(config: Config, *, dry_run: bool, window: Window | None = None) -> CycleOptions:
    """Return the cycle options the config asks for."""
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
    )


async def run_cycle(
    runtime: Runtime,
    state: StateAPI,
    options: CycleOptions,
    now: Callable[[], datetime],
    stop: asyncio.Event | None = None,
    kind: str = "cycle",
) -> list[CycleReport]:
    """Run one cycle for every active account concurrently; returns their reports.

    An account whose key binding expired is stopped with a clear error while
    the others go on; other failures of one account are reported in its
    report. Each account's run is recorded in the state's run history.
    """

    async def one(acct: AccountRuntime) -> CycleReport:
        store = state
        run_id = store.start_run(kind, acct.name, now(), options.dry_run)
        account = Account(acct.name, acct.client, runtime.ruleset, acct.tag_ids, store)
        status, error = "ok", None
        try:
            report = await run_account_cycle(account, options, now, stop)
        except KeyBindingExpired as exc:
            acct.stopped_reason = str(exc)
            log.error("account_stopped", account=acct.name, error=str(exc))
            report = CycleReport(acct.name, options.dry_run, now(), now())
            report.errors.append(str(exc))
            status, error = "stopped", str(exc)
        except MimecastError as exc:
            log.error("cycle_failed", account=acct.name, error=str(exc))
            report = CycleReport(acct.name, options.dry_run, now(), now())
            report.errors.append(str(exc))
            status, error = "failed", str(exc)
        if status == "ok" and (report.errors or report.failed):
            status = "partial"
        store.finish_run(run_id, now(), _counts(report), status, error)
        return report

    active = [a for a in runtime.accounts if a.stopped_reason is None]
    return list(await asyncio.gather(*(one(a) for a in active)))


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
    }


def all_tag_refs(ruleset: RuleSet) -> Sequence[str]:
    """Return every tag reference the rule set uses, in first-use order."""
    seen: dict[str, None] = {}
    for rule in ruleset.rules:
        for ref in rule.tags:
            seen.setdefault(ref, None)
    return list(seen)
