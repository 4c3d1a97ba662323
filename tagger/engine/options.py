"""What a cycle is given: the connected accounts, its options, and the hooks it calls.

:class:`Runtime` (built by :func:`tagger.service.runtime.open_runtime`) holds
the config, the compiled rules and each :class:`AccountRuntime`; a cycle turns
each into the :class:`Account` it works on (with the account's ledger and
rails). Whether a cycle is a dry run is not an option: it is the state's
(:attr:`tagger.engine.ledger.Ledger.dry_run`), decided when the state was opened.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import timedelta

from tagger.config import Config
from tagger.engine.guard import Guard
from tagger.engine.ledger import Ledger
from tagger.engine.scope import SearchScope
from tagger.engine.tenancy import AccountLease, Tenancy
from tagger.engine.window import Window, WindowPolicy
from tagger.mimecast.client import MimecastClient
from tagger.mimecast.models import SmartTag
from tagger.rules import RuleSet


@dataclass(frozen=True, slots=True)
class CycleOptions:
    """How one cycle runs.

    Built from the config by :func:`cycle_options`.
    ``window`` fixes the span (backfill) instead of the watermark;
    ``skip_queries`` holds the keys of queries not searched this time;
    ``interval`` (the daemon's) also skips the queries whose rules' own
    ``schedule`` is not due, and records when each query was searched;
    ``audit`` keeps an audit entry (with its explanation) per match;
    ``max_cycle_s`` bounds the cycle's time (None: no bound): calls wait their
    turn at the quota until then, and what has no turn by then is deferred to
    the next cycle, never failed (:mod:`tagger.mimecast.pacing`).
    """

    policy: WindowPolicy
    search_cap: int
    max_failures: int
    chunk: int = 256
    window: Window | None = None
    advance_watermark: bool = True
    skip_queries: frozenset[str] = frozenset()
    interval: timedelta | None = None
    audit: bool = True
    max_cycle_s: float | None = None


def _ignore(*_args: str) -> None:
    """Do nothing (the default hook)."""


@dataclass(frozen=True, slots=True)
class Hooks:
    """Told about a cycle's progress as it happens (metrics, watchdog); must not block.

    ``tag_applied(account, rule, tag)``: one Smart Tag (as the rule names it)
    was applied and recorded; ``progress(account)``: the cycle completed a
    step (a search or a chunk of messages).
    """

    tag_applied: Callable[[str, str, str], None] = _ignore
    progress: Callable[[str], None] = _ignore


NO_HOOKS = Hooks()


@dataclass(frozen=True, slots=True)
class Account:
    """Everything the cycle needs about one account, built by the composition root."""

    name: str
    client: MimecastClient
    ruleset: RuleSet
    tag_ids: Mapping[str, str]
    ledger: Ledger
    scope: SearchScope | None = None
    guard: Guard | None = None
    # This node's lease of the account when several nodes share the ledger.
    lease: AccountLease | None = None


@dataclass
class AccountRuntime:
    """One account's live client, resolved tag ids and search scope (what it learned).

    ``ruleset`` is the account's own rule set when it names rule files of its
    own (``accounts[].rules``); None: it runs the runtime's.
    """

    name: str
    client: MimecastClient
    tag_ids: dict[str, str]
    tags: list[SmartTag]
    stopped_reason: str | None = None
    scope: SearchScope | None = None
    ruleset: RuleSet | None = None


@dataclass
class Runtime:
    """A loaded configuration with its rule set and connected accounts."""

    config: Config
    ruleset: RuleSet
    accounts: list[AccountRuntime]
    stack: AsyncExitStack = field(repr=False)
    # The accounts this node holds when several nodes share a PostgreSQL ledger.
    tenancy: Tenancy | None = None

    def ruleset_of(self, account: AccountRuntime) -> RuleSet:
        """Return the rule set ``account`` runs: its own, else the runtime's."""
        return self.ruleset if account.ruleset is None else account.ruleset

    def own_rulesets(self) -> list[RuleSet]:
        """Return the accounts' own rule sets (none when every account runs the runtime's)."""
        return [a.ruleset for a in self.accounts if a.ruleset is not None]

    def rule_count(self) -> int:
        """Return how many distinct enabled rules (id and definition) the accounts run."""
        sets = [self.ruleset, *self.own_rulesets()]
        return len({(r.id, r.content_hash) for s in sets for r in s.rules})

    async def close(self) -> None:
        """Close every client."""
        await self.stack.aclose()


def cycle_options(
    config: Config,
    *,
    window: Window | None = None,
    skip_queries: frozenset[str] = frozenset(),
    interval: timedelta | None = None,
    max_cycle: timedelta | None = None,
) -> CycleOptions:
    """Return the cycle options the config asks for.

    ``window`` fixes the span (no watermarks); ``interval`` lets the queries
    whose rules set a longer ``schedule`` wait; ``max_cycle`` bounds the
    cycle (the daemon's: ``schedule.max_cycle``; None: no bound, as for
    ``once`` and ``backfill``). Audit entries (and their explanations) are
    kept only when the config names an audit file.
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
        window=window,
        advance_watermark=window is None,
        skip_queries=skip_queries,
        interval=interval,
        audit=config.audit_path is not None,
        max_cycle_s=None if max_cycle is None else max_cycle.total_seconds(),
    )
