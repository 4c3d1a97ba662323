"""One cycle for one account: search, filter, fetch, evaluate, plan, apply, record.

This is the single code path behind ``once``, ``run``, ``backfill`` and every
dry run; the scheduler only decides when it runs. Rule evaluation and planning
are pure (``tagger.rules``, ``tagger.engine.plan``); the I/O happens here,
through the injected client and state.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

import structlog

from tagger.engine.plan import Action, MessagePlan, Wanted, plan_message, present_tag_ids
from tagger.engine.ports import ApiClient
from tagger.engine.report import CycleReport
from tagger.engine.search import search_window
from tagger.engine.window import Window, WindowPolicy, next_watermark, plan_window
from tagger.mimecast.errors import KeyBindingExpired, MimecastError
from tagger.mimecast.models import Message, MessageInfo, SearchCriteria, TrackedEmail
from tagger.rules import CompiledRule, RuleSet, evaluate, prefilter
from tagger.state.api import StateAPI

log = structlog.get_logger("tagger.engine")


@dataclass(frozen=True, slots=True)
class CycleOptions:
    """How one cycle runs. ``window`` fixes the span (backfill) instead of the watermark."""

    policy: WindowPolicy
    search_cap: int = 500
    max_failures: int = 5
    dry_run: bool = False
    chunk: int = 256
    window: Window | None = None
    advance_watermark: bool = True


@dataclass(frozen=True, slots=True)
class Account:
    """Everything the cycle needs about one account, built by the composition root."""

    name: str
    client: ApiClient
    ruleset: RuleSet
    tag_ids: Mapping[str, str]
    state: StateAPI


@dataclass(frozen=True, slots=True)
class Query:
    """One distinct search: the criteria shared by a group of rules."""

    criteria: SearchCriteria
    lookback: timedelta | None
    rules: tuple[CompiledRule, ...]

    @property
    def key(self) -> str:
        """Return the watermark key of this query."""
        return self.criteria.key()


def group_queries(ruleset: RuleSet) -> list[Query]:
    """Group the rule set's rules by their search criteria (pure).

    Rules with equal criteria share one search; the group looks back as far as
    its furthest-looking rule (None when no rule sets a look-back).
    """
    groups: dict[SearchCriteria, list[CompiledRule]] = {}
    for rule in ruleset.rules:
        groups.setdefault(rule.criteria, []).append(rule)
    out = []
    for criteria, rules in groups.items():
        lookbacks = [r.lookback for r in rules if r.lookback is not None]
        out.append(Query(criteria, max(lookbacks) if lookbacks else None, tuple(rules)))
    return out


@dataclass
class _Candidate:
    summary: TrackedEmail
    rule_ids: set[str] = field(default_factory=set)
    queries: set[str] = field(default_factory=set)


class Stopped(Exception):
    """Raised inside a cycle when a stop was requested between chunks."""


async def run_account_cycle(
    account: Account,
    options: CycleOptions,
    now: Callable[[], datetime],
    stop: asyncio.Event | None = None,
) -> CycleReport:
    """Run one cycle for ``account`` and return its report.

    Searches every distinct query's window, skips messages already processed
    for this rule set, fetches message info only when a rule still needs it,
    evaluates, plans and (unless dry-run) applies, recording each success in
    state. A query's watermark advances only when its whole window is done and
    never past a message that failed and is not yet set aside. Raises
    :class:`KeyBindingExpired` (fatal for the account); other API errors are
    counted per message or per query and reported.
    """
    started = now()
    report = CycleReport(account=account.name, dry_run=options.dry_run, started=started)
    state = account.state
    ruleset = account.ruleset
    queries = group_queries(ruleset)
    candidates: dict[str, _Candidate] = {}
    windows: dict[str, Window] = {}
    failed_queries: set[str] = set()

    for query in queries:
        window = options.window or plan_window(
            state.get_watermark(account.name, query.key), started, options.policy, query.lookback
        )
        windows[query.key] = window
        report.windows[query.key] = window
        try:
            outcome = await search_window(
                account.client,
                query.criteria,
                window,
                cap=options.search_cap,
                split_min_s=options.policy.split_min.total_seconds(),
            )
        except KeyBindingExpired:
            raise
        except MimecastError as exc:
            failed_queries.add(query.key)
            report.errors.append(f"search {query.key}: {exc}")
            log.error("search_failed", account=account.name, query=query.key, error=str(exc))
            continue
        report.search_calls += outcome.calls
        report.window_splits += outcome.splits
        for email in outcome.emails.values():
            cand = candidates.setdefault(email.id, _Candidate(email))
            cand.rule_ids.update(r.id for r in query.rules)
            cand.queries.add(query.key)

    report.messages_found = len(candidates)
    ids = list(candidates)
    done = state.processed_ids(account.name, ruleset.content_hash, ids)
    aside = state.set_aside_ids(account.name)
    report.already_processed = len(done)
    todo = [candidates[i] for i in ids if i not in done and i not in aside]
    report.set_aside_skipped = sum(1 for i in ids if i in aside and i not in done)
    held_back: dict[str, list[datetime]] = {}

    for offset in range(0, len(todo), options.chunk):
        if stop is not None and stop.is_set():
            report.interrupted = True
            break
        chunk = todo[offset : offset + options.chunk]
        failed = await _process_chunk(account, options, chunk, report, now)
        for cand in chunk:
            if cand.summary.id in failed:
                received = cand.summary.received or started
                for key in cand.queries:
                    held_back.setdefault(key, []).append(received)

    if options.advance_watermark and not report.interrupted:
        for query in queries:
            if query.key in failed_queries:
                continue
            mark = next_watermark(windows[query.key], held_back.get(query.key, []))
            state.set_watermark(account.name, query.key, mark, now())
            report.watermarks[query.key] = mark
    report.finished = now()
    return report


async def _process_chunk(
    account: Account,
    options: CycleOptions,
    chunk: Sequence[_Candidate],
    report: CycleReport,
    now: Callable[[], datetime],
) -> set[str]:
    """Process one chunk of candidates; returns the ids that failed and were not set aside."""
    ruleset = account.ruleset
    rules_by_id = {r.id: r for r in ruleset.rules}
    tag_ids = account.tag_ids
    eligible: dict[str, list[CompiledRule]] = {}
    need_info: list[str] = []
    for cand in chunk:
        live = []
        unknown = False
        for rule_id in cand.rule_ids:
            rule = rules_by_id[rule_id]
            verdict = prefilter(rule, cand.summary)
            if verdict is False:
                continue
            live.append(rule)
            unknown = unknown or verdict is None
        eligible[cand.summary.id] = live
        report.scanned += 1
        if unknown:
            need_info.append(cand.summary.id)

    infos, info_errors = await _fetch_infos(account.client, need_info)
    report.info_calls += len(need_info)
    failures: dict[str, str] = dict(info_errors)

    plans: list[tuple[_Candidate, MessagePlan]] = []
    recorded = account.state.applied_pairs(account.name, [c.summary.id for c in chunk])
    for cand in chunk:
        mid = cand.summary.id
        if mid in failures:
            continue
        info = infos.get(mid)
        message = Message(cand.summary, info)
        allowed = {r.id for r in eligible[mid]}
        decisions = [d for d in evaluate(ruleset, message) if d.rule_id in allowed]
        wanted = [
            Wanted(d.rule_id, rules_by_id[d.rule_id].content_hash, d.mode, ref, tag_ids[ref])
            for d in decisions
            for ref in d.tags
        ]
        present = _present(info, account.tag_ids)
        plan = plan_message(mid, wanted, recorded, present)
        plans.append((cand, plan))
        report.add_decisions(cand.summary, decisions, plan)

    if not options.dry_run:
        apply_errors = await _execute(account, [p for _, p in plans], report, now)
        failures.update(apply_errors)

    return _settle(account, options, chunk, failures, report, now)


def _present(info: MessageInfo | None, tag_ids: Mapping[str, str]) -> set[str]:
    """Return the ids of tags already on the message (empty without info)."""
    if info is None:
        return set()
    return present_tag_ids(((t.id, t.name, t.path) for t in info.smart_tags), tag_ids)


async def _fetch_infos(
    client: ApiClient, ids: Sequence[str]
) -> tuple[dict[str, MessageInfo], dict[str, str]]:
    """Fetch message info for ``ids`` concurrently (the client bounds concurrency).

    Returns the infos fetched and, per failed id, the error text. Raises
    :class:`KeyBindingExpired`, which no retry can cure.
    """

    async def one(mid: str) -> tuple[str, MessageInfo | None, str]:
        try:
            return mid, await client.get_message_info(mid), ""
        except KeyBindingExpired:
            raise
        except MimecastError as exc:
            return mid, None, str(exc)

    infos: dict[str, MessageInfo] = {}
    errors: dict[str, str] = {}
    for mid, info, error in await asyncio.gather(*(one(m) for m in ids)):
        if info is not None:
            infos[mid] = info
        else:
            errors[mid] = error or "empty message info"
    return infos, errors


async def _execute(
    account: Account,
    plans: Sequence[MessagePlan],
    report: CycleReport,
    now: Callable[[], datetime],
) -> dict[str, str]:
    """Apply every enforce-mode action and record each success at once.

    Returns, per message with a failed apply, the error text. Every apply that
    returned is recorded before this returns, so a stop request after it loses
    nothing.
    """

    async def one(action: Action) -> tuple[Action, str]:
        try:
            await account.client.apply_smart_tag(action.message_id, action.tag_id)
        except KeyBindingExpired:
            raise
        except MimecastError as exc:
            return action, str(exc)
        account.state.record_applied(
            account.name,
            action.message_id,
            action.tag_id,
            rule_id=action.rule_id,
            rule_hash=action.rule_hash,
            mode=action.mode,
            at=now(),
        )
        report.applied += 1
        report.per_rule(action.rule_id).applied += 1
        log.info(
            "tag_applied",
            account=account.name,
            message_id=action.message_id,
            rule=action.rule_id,
            tag=action.tag_ref,
            tag_id=action.tag_id,
        )
        return action, ""

    actions = [a for plan in plans for a in plan.executable()]
    errors: dict[str, str] = {}
    for action, error in await asyncio.gather(*(one(a) for a in actions)):
        if error:
            errors.setdefault(action.message_id, error)
            log.error(
                "tag_apply_failed",
                account=account.name,
                message_id=action.message_id,
                rule=action.rule_id,
                tag=action.tag_ref,
                error=error,
            )
    return errors


def _settle(
    account: Account,
    options: CycleOptions,
    chunk: Sequence[_Candidate],
    failures: Mapping[str, str],
    report: CycleReport,
    now: Callable[[], datetime],
) -> set[str]:
    """Mark finished messages processed; count failures and set aside repeat offenders.

    Returns the ids that failed and must hold the watermark back.
    """
    state = account.state
    at = now()
    ok = [c for c in chunk if c.summary.id not in failures]
    received = {c.summary.id: c.summary.received for c in ok if c.summary.received is not None}
    if ok:
        state.mark_processed(
            account.name, account.ruleset.content_hash, [c.summary.id for c in ok], at, received
        )
    held: set[str] = set()
    for mid, error in failures.items():
        count = state.record_failure(account.name, mid, error, at)
        report.failed += 1
        if count >= options.max_failures:
            state.set_aside(account.name, mid, at)
            report.set_aside.append(mid)
            log.error(
                "message_set_aside",
                account=account.name,
                message_id=mid,
                attempts=count,
                error=error,
            )
        else:
            held.add(mid)
            log.warning(
                "message_failed", account=account.name, message_id=mid, attempts=count, error=error
            )
    return held
