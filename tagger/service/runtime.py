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
from datetime import UTC, datetime
from pathlib import Path

import structlog

from tagger.config import Config
from tagger.engine.options import AccountRuntime, Runtime
from tagger.engine.scope import SearchScope
from tagger.errors import Problem, UserError
from tagger.mimecast.client import MimecastClient
from tagger.mimecast.retention import warn_long_lookbacks
from tagger.mimecast.sharedgate import GateRegistry
from tagger.rules import RuleSet, check_tags, load_rules, resolve_tags
from tagger.rules.lists_ref import lists_used
from tagger.rules.refuse import refuse_unknown_tag_rules
from tagger.state import StateStore

log = structlog.get_logger("tagger.service")


def utc_now() -> datetime:
    """Return the current time (UTC, aware)."""
    return datetime.now(UTC)


def load_ruleset(config: Config) -> RuleSet:
    """Load and compile the rules the config names, with its shared lists.

    Raises UserError with every problem (rules and list files).
    """
    ruleset = load_rules(list(config.rule_paths), config.lists)
    users: dict[str, int] = {}
    entries: dict[str, int] = {}
    for rule in ruleset.all_rules():
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
    return ruleset


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
    # Accounts of one quota group (same credentials, or quota_group) pace at shared gates.
    gates = GateRegistry()
    accounts: list[AccountRuntime] = []
    problems: list[Problem] = []
    try:
        for account in config.accounts:
            client = await stack.enter_async_context(MimecastClient(account.settings, gates=gates))
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
