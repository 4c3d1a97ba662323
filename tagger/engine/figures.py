"""What one cycle did: counts, per-rule figures, and the audit entries (pure data)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence, Set
from dataclasses import dataclass, field
from datetime import UTC, datetime

from tagger.audit.entry import Entry, safe_text, safe_value
from tagger.engine.plan import Action, MessagePlan, Skipped
from tagger.engine.window import Window
from tagger.mimecast.models import TrackedEmail
from tagger.rules.model import CompiledRule, Decision

__all__ = ["CycleFigures", "RuleFigures"]


@dataclass
class RuleFigures:
    """Per-rule counts for one cycle."""

    matched: int = 0
    planned: int = 0
    applied: int = 0
    skipped: int = 0
    # Pairs a rail kept from being applied this cycle, recorded as held pairs
    # (awaiting promotion, paused, over a limit, kill switch, account disabled).
    held: int = 0
    # Planned tags of audit-mode rules: never applied.
    audit_only: int = 0
    # Planned tags of a rule awaiting promotion: applied once it is promoted.
    awaiting: int = 0
    # Held pairs released this cycle: applied, or already on the message/recorded.
    released: int = 0
    # Held pairs dropped (changed definition) or expired (older than tracking) this cycle.
    dropped: int = 0
    expired: int = 0


def _utc_now() -> datetime:
    return datetime.now(UTC)


def _new_run_id() -> str:
    return uuid.uuid4().hex[:12]


@dataclass
class CycleFigures:
    """Counts and entries from one account's cycle (what it says of them: :class:`CycleReport`)."""

    account: str
    dry_run: bool
    started: datetime
    finished: datetime | None = None
    windows: dict[str, Window] = field(default_factory=dict)
    watermarks: dict[str, datetime] = field(default_factory=dict)
    search_calls: int = 0
    window_splits: int = 0
    queries_skipped: int = 0
    messages_found: int = 0
    already_processed: int = 0
    set_aside_skipped: int = 0
    scanned: int = 0
    info_calls: int = 0
    matched: int = 0
    planned: int = 0
    applied: int = 0
    failed: int = 0
    held_back: int = 0
    # Work the quota had no turn for before the cycle's bound: messages and
    # searches left for the next cycle (not failures), about how many seconds
    # of quota they need, and the oldest such message's received time.
    quota_deferred: int = 0
    searches_deferred: int = 0
    quota_wait_s: float = 0.0
    oldest_deferred: datetime | None = None
    saturated: int = 0
    search_failures: int = 0
    search_refused: int = 0
    interrupted: bool = False
    account_error: str | None = None
    set_aside: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    # The rails: preflight problems (nothing applied), rules paused (and the
    # messages of the pauses made this cycle), rules awaiting promotion, and
    # whether the kill switch (or ``enabled: false``) held every apply back.
    preflight: list[str] = field(default_factory=list)
    paused: list[str] = field(default_factory=list)
    new_pauses: list[str] = field(default_factory=list)
    awaiting: list[str] = field(default_factory=list)
    # Rules written ``mode: audit``: audit-only for good (the summary marks them).
    audit_mode: set[str] = field(default_factory=set)
    kill_switch: bool = False
    # Held pairs whose rail is lifted, left for a live cycle to apply (a dry run's count).
    release_pending: int = 0
    # The account's open held pairs at the end of the cycle: (rule, reason) ->
    # (distinct messages, pairs); for the metrics and the summary.
    held_now: dict[tuple[str, str], tuple[int, int]] = field(default_factory=dict)
    rules: dict[str, RuleFigures] = field(default_factory=dict)
    entries: list[Entry] = field(default_factory=list)
    # How many entries are in the audit file already: a live cycle writes each
    # chunk's entries as the chunk ends and drops them from ``entries``.
    audited: int = 0
    plan: list[tuple[str, str, str]] = field(default_factory=list)
    # Identifies this account's cycle in the audit report (one id per report).
    run_id: str = field(default_factory=_new_run_id)
    # When audit entries are stamped; injectable so the report stays testable.
    clock: Callable[[], datetime] = field(default=_utc_now, repr=False, compare=False)
    rule_hashes: dict[str, str] = field(default_factory=dict)
    # Whether audit entries (with their explanations) are kept: only when an
    # audit report will be written, since each costs a full trace.
    keep_entries: bool = field(default=True, compare=False)

    def expect_rules(self, rules: Iterable[CompiledRule]) -> None:
        """Note every rule of the cycle, so the summary lists those that matched nothing too."""
        for rule in rules:
            self.per_rule(rule.id)
            self.rule_hashes[rule.id] = rule.content_hash
            if rule.mode == "audit":
                self.audit_mode.add(rule.id)

    def searched(self) -> Window | None:
        """Return the span of received time this cycle searched (all queries), or None."""
        if not self.windows:
            return None
        spans = list(self.windows.values())
        return Window(min(w.start for w in spans), max(w.end for w in spans))

    def per_rule(self, rule_id: str) -> RuleFigures:
        """Return (creating if needed) the figures of one rule."""
        return self.rules.setdefault(rule_id, RuleFigures())

    def add_decisions(
        self,
        summary: TrackedEmail,
        decisions: Iterable[Decision],
        plan: MessagePlan,
        failure: str | None = None,
        held: Set[str] = frozenset(),
        repeats: Set[str] = frozenset(),
    ) -> None:
        """Record the decisions and plan made for one message.

        ``failure`` is the error of a live run that could not finish the
        message (None when it was finished, or in a dry run); ``held`` the
        rules whose tags on it a rail held back (paused rule, kill switch);
        ``repeats`` the rules whose entry on it was written before (their
        figures count, no entry is made again). Entries (and so
        explanations) are built only when :attr:`keep_entries` is set.
        """
        decisions = list(decisions)
        at: datetime | None = None
        window: Window | None = None
        if decisions:
            self.matched += 1
        for decision in decisions:
            figures = self.per_rule(decision.rule_id)
            figures.matched += 1
            mine = [a for a in plan.actions if a.rule_id == decision.rule_id]
            skipped = [s for s in plan.skipped if s.rule_id == decision.rule_id]
            figures.planned += len(mine)
            railed = sum(1 for a in mine if a.mode != "enforce")
            if decision.mode == "enforce":
                figures.awaiting += railed
            else:
                figures.audit_only += railed
            figures.skipped += len(skipped)
            if not self.keep_entries or decision.rule_id in repeats:
                continue
            if at is None:
                at, window = self.clock(), self.searched()
            self.entries.append(
                self._entry(summary, decision, mine, skipped, failure, held, at, window)
            )
        for action in plan.actions:
            self.planned += 1
            self.plan.append((action.message_id, action.tag_id, action.mode))

    def _entry(
        self,
        summary: TrackedEmail,
        decision: Decision,
        mine: Sequence[Action],
        skipped: Sequence[Skipped],
        failure: str | None,
        held: Set[str],
        at: datetime,
        window: Window | None,
    ) -> Entry:
        """Return the audit entry of one rule's decision on one message (pure)."""
        rule_hash = self.rule_hashes.get(decision.rule_id) or next((a.rule_hash for a in mine), "")
        # An enforce rule whose planned tags run in audit mode awaits promotion.
        awaiting = decision.mode == "enforce" and any(a.mode == "audit" for a in mine)
        return Entry(
            message_id=safe_text(summary.id),
            received=summary.received.isoformat() if summary.received else None,
            sender=safe_text(summary.from_hdr.email or summary.from_env.email),
            subject=None if summary.subject is None else safe_text(summary.subject),
            rule=decision.rule_id,
            rule_mode=decision.mode,
            tags=tuple(decision.tags),
            planned=tuple(a.tag_id for a in mine),
            skipped=tuple((s.tag_id, s.reason) for s in skipped),
            explanation=safe_value(decision.explanation_json()),
            at=at,
            run_id=self.run_id,
            dry_run=self.dry_run,
            window=window,
            rule_hash=rule_hash,
            recipients=tuple(dict.fromkeys(safe_text(a.email) for a in summary.to if a.email)),
            failure=failure,
            rail="awaiting" if awaiting else "held" if decision.rule_id in held else "",
        )

    def note_deferred(self, received: datetime | None) -> None:
        """Keep ``received`` as the backlog's oldest message when it is older than the one kept."""
        if received is not None and (
            self.oldest_deferred is None or received < self.oldest_deferred
        ):
            self.oldest_deferred = received
