"""What one account's cycle is given: its options, its account, and the hooks it calls."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta

from tagger.engine.guard import Guard
from tagger.engine.ledger import Ledger
from tagger.engine.scope import SearchScope
from tagger.engine.window import Window, WindowPolicy
from tagger.mimecast.client import MimecastClient
from tagger.rules import RuleSet


@dataclass(frozen=True, slots=True)
class CycleOptions:
    """How one cycle runs.

    Built from the config by :func:`tagger.service.runtime.cycle_options`.
    ``window`` fixes the span (backfill) instead of the watermark;
    ``skip_queries`` holds the keys of queries not searched this time;
    ``interval`` (the daemon's) also skips the queries whose rules' own
    ``schedule`` is not due, and records when each query was searched;
    ``audit`` keeps an audit entry (with its explanation) per match.
    """

    policy: WindowPolicy
    search_cap: int
    max_failures: int
    dry_run: bool = False
    chunk: int = 256
    window: Window | None = None
    advance_watermark: bool = True
    skip_queries: frozenset[str] = frozenset()
    interval: timedelta | None = None
    audit: bool = True


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
