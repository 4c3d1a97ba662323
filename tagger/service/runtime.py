"""Composition of one runnable set-up: config, compiled rules, clients and tag ids, state.

Everything a cycle needs is built here from a :class:`~tagger.config.Config`,
all-or-nothing: a set-up with any problem (rules, unknown tags, credentials)
raises :class:`~tagger.errors.UserError` and the caller keeps what it had.
The cycle itself is the engine's (:func:`tagger.engine.run.run_cycle`).
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from contextlib import AsyncExitStack
from contextvars import ContextVar
from dataclasses import replace
from datetime import UTC, datetime

import structlog

from tagger.config import Config
from tagger.engine.options import AccountRuntime, Runtime
from tagger.engine.scope import SearchScope
from tagger.errors import Problem, UserError
from tagger.mimecast.client import MimecastClient
from tagger.mimecast.crossnode import CrossNodeQuota
from tagger.mimecast.retention import warn_long_lookbacks
from tagger.mimecast.sharedgate import GateRegistry
from tagger.rules import RuleSet, check_tags, resolve_tags
from tagger.rules.accountsets import AccountRuleSets, load_account_rule_sets
from tagger.rules.lists_ref import lists_used
from tagger.rules.refuse import refuse_unknown_tag_rules
from tagger.state import StateStore
from tagger.state.opener import StateConfig
from tagger.state.opener import open_state as open_ledger

log = structlog.get_logger("tagger.service")

# The quota shared with other nodes for the session under way (None: this process alone);
# a runtime opened in the session (a reload) takes it too.
CROSS_QUOTA: ContextVar[CrossNodeQuota | None] = ContextVar("tagger_cross_quota", default=None)


def utc_now() -> datetime:
    """Return the current time (UTC, aware)."""
    return datetime.now(UTC)


def load_rule_sets(config: Config) -> AccountRuleSets:
    """Load and compile the rules the config names (top-level and each account's), with its lists.

    Raises UserError with every problem (rules and list files).
    """
    sets = load_account_rule_sets(config)
    users: dict[str, int] = {}
    entries: dict[str, int] = {}
    seen: set[tuple[str, str]] = set()
    for ruleset in (sets.default, *sets.own.values()):
        for rule in ruleset.all_rules():
            if (rule.id, rule.content_hash) in seen:
                continue
            seen.add((rule.id, rule.content_hash))
            for name, shared in lists_used((rule.match, rule.unless)).items():
                users[name] = users.get(name, 0) + 1
                entries[name] = len(shared.entries)
    for spec in config.lists:
        if spec.name not in users:
            log.warning("list_unused", list=spec.name, file=str(spec.path), hint="no rule tests it")
            continue
        log.info(
            "list_loaded",
            list=spec.name,
            kind=spec.kind,
            entries=entries[spec.name],
            rules=users[spec.name],
            hashed=spec.hash,
        )
    for account in config.accounts:
        if account.rule_paths:
            own = sets.of(account.name)
            log.info(
                "account_rules_loaded",
                account=account.name,
                mode=account.rules_mode,
                files=[str(f) for f in sets.files[account.name]],
                rules=len(own.rules),
                ruleset=own.content_hash,
            )
    return sets


def load_ruleset(config: Config) -> RuleSet:
    """Load the top-level rule set (see :func:`load_rule_sets`); raises UserError."""
    return load_rule_sets(config).default


def _for_account(problems: list[Problem], account: str) -> list[Problem]:
    """Return ``problems`` each saying which account they were found for."""
    return [replace(p, message=f"{p.message} (account {account})") for p in problems]


async def open_runtime(
    config: Config, ruleset: RuleSet | None = None, cross: CrossNodeQuota | None = None
) -> Runtime:
    """Connect every account and resolve every rule's tags to Smart Tag ids.

    Given a loaded config (and optionally an already-compiled top-level rule
    set, and ``cross``, the quota shared with other nodes, e.g. a
    :class:`~tagger.cluster.quota.SharedQuota`; None: the session's,
    :data:`CROSS_QUOTA`, if any);
    returns the runtime, in which an account with rule files of its own
    carries its own rule set. Raises :class:`UserError` when rules are
    invalid or name tags an account does not have (located in the rule
    files), and :class:`MimecastError` when an account cannot be reached.
    """
    if ruleset is None:
        sets = load_rule_sets(config)
        rules, own = sets.default, dict(sets.own)
    else:
        rules = ruleset
        own = dict(load_rule_sets(config).own) if config.per_account_rules else {}
    lookbacks = {
        (r.id, r.lookback)
        for s in (rules, *own.values())
        for r in s.rules
        if r.lookback is not None
    }
    warn_long_lookbacks(config.window.initial_lookback, sorted(lookbacks))
    stack = AsyncExitStack()
    # Accounts of one quota group (same credentials, or quota_group) pace at shared gates.
    gates = GateRegistry(cross if cross is not None else CROSS_QUOTA.get())
    accounts: list[AccountRuntime] = []
    problems: list[Problem] = []
    try:
        for account in config.accounts:
            client = await stack.enter_async_context(MimecastClient(account.settings, gates=gates))
            tags = await client.list_smart_tags()
            mine = own.get(account.name)
            if not config.strict_tags:
                # Only the rules naming tags this account lacks are left out (logged).
                if mine is None:
                    rules = refuse_unknown_tag_rules(rules, tags, account.name)
                else:
                    mine = refuse_unknown_tag_rules(mine, tags, account.name)
            found = check_tags(rules if mine is None else mine, tags)
            problems.extend(_for_account(found, account.name))
            if any(p.severity == "error" for p in found):
                continue
            resolved = resolve_tags(rules if mine is None else mine, tags)
            ids = {ref: tag.id for ref, tag in resolved.items()}
            scope = SearchScope(account.name, account.domains, account.search_scope)
            accounts.append(
                AccountRuntime(account.name, client, ids, list(tags), scope=scope, ruleset=mine)
            )
        if any(p.severity == "error" for p in problems):
            raise UserError(problems, "rules name Smart Tags the account does not have")
    except BaseException:
        await stack.aclose()
        raise
    return Runtime(config, rules, accounts, stack)


@contextlib.contextmanager
def open_state(config: StateConfig, *, dry_run: bool) -> Iterator[StateStore]:
    """Open the state a command works on, and close it afterwards.

    Live: the store (SQLite: holding the single-writer lock, StateLocked when
    another process has it). Dry run: an in-memory copy of the ledger, read
    without the lock (so a dry run works next to a running daemon) and empty
    when there is none yet; every write goes to the copy, so a dry run never
    creates or changes the ledger. Raises StateError when it is unusable.
    """
    store = open_ledger(config, dry_run=dry_run)
    try:
        yield store
    finally:
        store.close()
