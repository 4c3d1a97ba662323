"""What one cycle did: counts, per-rule figures, and the audit entries (pure data)."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Sequence, Set
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tagger.audit.entry import Entry, safe_text, safe_value
from tagger.engine.plan import Action, MessagePlan, Skipped
from tagger.engine.resolved import resolved_entry
from tagger.engine.window import Window
from tagger.mimecast.models import TrackedEmail
from tagger.rules.model import CompiledRule, Decision
from tagger.state.held import HeldRow
from tagger.words import plural


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
class CycleReport:
    """Counts and entries from one account's cycle."""

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

    def add_resolved(self, rows: Iterable[HeldRow], outcome: str, note: str = "") -> None:
        """Count held pairs resolved this cycle and keep one audit entry per message and rule.

        ``outcome`` is ``released`` (applied now, or found on the message),
        ``dropped`` or ``expired``; ``note`` says why (shown as the entry's error).
        """
        groups: dict[tuple[str, str, str], list[HeldRow]] = {}
        for row in rows:
            groups.setdefault((row.message_id, row.rule_id, row.rule_hash), []).append(row)
            figures = self.per_rule(row.rule_id)
            if outcome == "released":
                figures.released += 1
            elif outcome == "expired":
                figures.expired += 1
            else:
                figures.dropped += 1
        if self.keep_entries and groups:
            at = self.clock()
            for key, pairs in groups.items():
                self.entries.append(resolved_entry(key, pairs, outcome, note, at, self))

    def note_deferred(self, received: datetime | None) -> None:
        """Keep ``received`` as the backlog's oldest message when it is older than the one kept."""
        if received is not None and (
            self.oldest_deferred is None or received < self.oldest_deferred
        ):
            self.oldest_deferred = received

    def quota_note(self) -> str:
        """Return what the quota left for the next cycle, in words ("" when nothing).

        Deferred work is paced, not failed: it is no part of :meth:`undone`.
        """
        if not self.quota_deferred and not self.searches_deferred:
            return ""
        parts = []
        if self.quota_deferred:
            parts.append(f"{plural(self.quota_deferred, 'message')} deferred")
        if self.searches_deferred:
            parts.append(f"{plural(self.searches_deferred, 'search')} deferred")
        about = f", about {self.quota_wait_s:.0f} s of quota" if self.quota_wait_s >= 1 else ""
        return f"quota: {', '.join(parts)}{about}; the next cycle takes them first"

    def needs_operator(self) -> list[str]:
        """Return what this cycle found that waits for the operator, one phrase each.

        Each one makes ``once`` and ``backfill`` exit 1
        (:func:`tagger.exitcodes.cycle_exit_code`): an account whose cycle
        could not run, a search refused for good, a message set aside, a
        window still truncated at ``split_min``, a rule paused by a limit in a
        live run, a failed preflight. Running again without a change meets them again.
        """
        out = []
        if self.account_error is not None:
            out.append("the account's cycle could not run")
        if self.search_refused:
            out.append(f"{plural(self.search_refused, 'search', 'searches')} refused for good")
        if self.set_aside:
            out.append(f"{plural(len(self.set_aside), 'message')} set aside")
        if self.saturated:
            out.append(f"{plural(self.saturated, 'window')} still truncated at window.split_min")
        if self.new_pauses and not self.dry_run:
            # A preview's pause is only reported: nothing was applied or paused.
            out.append(f"{plural(len(self.new_pauses), 'rule')} paused by a limit")
        if self.preflight:
            out.append("the preflight failed")
        return out

    def undone(self) -> list[str]:
        """Return what this cycle left for the next run to retry, one phrase each (empty: none).

        Undone work is a message that failed without being set aside, a query
        whose window was held back, a search that failed for now (not refused
        for good), or a stop request: the next run retries it by itself (exit 3
        when nothing needs the operator). What waits for the operator is
        :meth:`needs_operator`'s.
        """
        out = []
        retried_searches = self.search_failures - self.search_refused
        if retried_searches > 0:
            out.append(f"{plural(retried_searches, 'search', 'searches')} failed")
        retried = self.failed - len(self.set_aside)
        if retried > 0:
            out.append(f"{plural(retried, 'message')} failed")
        if self.held_back:
            out.append(f"{plural(self.held_back, 'window')} held back")
        if self.interrupted:
            out.append("stopped before the end")
        return out

    def summary_fields(self) -> dict[str, Any]:
        """Return the account's figures as log fields (the ``cycle_summary`` event)."""
        fields: dict[str, Any] = {
            "account": self.account,
            "dry_run": self.dry_run,
            "searches": self.search_calls,
            "found": self.messages_found,
            "scanned": self.scanned,
            "already_processed": self.already_processed,
            "info_calls": self.info_calls,
            "matched": self.matched,
            "planned": self.planned,
            "applied": self.applied,
            "audit_only": sum(f.audit_only for f in self.rules.values()),
            "awaiting_promotion": sum(f.awaiting for f in self.rules.values()),
            "held_by_rails": sum(f.held for f in self.rules.values()),
            "released": sum(f.released for f in self.rules.values()),
            "held_pairs": sum(p for _, p in self.held_now.values()),
            "failed": self.failed,
            "window_splits": self.window_splits,
            "set_aside": len(self.set_aside),
            "interrupted": self.interrupted,
        }
        if self.quota_deferred or self.searches_deferred:
            fields["quota_deferred"] = self.quota_deferred
            fields["searches_deferred"] = self.searches_deferred
            fields["quota_wait_s"] = round(self.quota_wait_s)
        undone = self.undone()
        if undone:
            fields["incomplete"] = undone
        attention = self.needs_operator()
        if attention:
            fields["needs_attention"] = attention
        if self.saturated:
            fields["saturated_windows"] = self.saturated
        return fields

    def rule_fields(self) -> list[dict[str, Any]]:
        """Return one set of log fields per rule (the ``rule_summary`` events), by rule id."""
        return [
            {
                "account": self.account,
                "rule": rule_id,
                "matched": f.matched,
                "planned": f.planned,
                "applied": f.applied,
                "audit_only": f.audit_only,
                "would_apply_once_promoted": f.awaiting,
                "held": f.held,
                "released": f.released,
                "held_pairs": sum(p for (r, _), (_, p) in self.held_now.items() if r == rule_id),
                "paused": rule_id in self.paused,
                "awaiting_promotion": rule_id in self.awaiting,
                "already_present": f.skipped,
            }
            for rule_id, f in sorted(self.rules.items())
        ]

    def _held_note(self, rule_id: str) -> str:
        """Return the rule's open held pairs in words ("" when none)."""
        mine = [v for (r, _), v in self.held_now.items() if r == rule_id]
        if not mine:
            return ""
        messages, pairs = sum(m for m, _ in mine), sum(p for _, p in mine)
        return f" ({messages} messages, {pairs} tags held in all)"

    def summary_lines(self) -> list[str]:
        """Return the human summary: one line for the account and one per rule."""
        verb = "would apply" if self.dry_run else "applied"
        audit_only = sum(f.audit_only for f in self.rules.values())
        awaiting = sum(f.awaiting for f in self.rules.values())
        held = sum(f.held for f in self.rules.values())
        released = sum(f.released for f in self.rules.values())
        applied = self.planned - audit_only - awaiting if self.dry_run else self.applied
        lines = [
            f"account {self.account}: {self.messages_found} found, {self.scanned} scanned, "
            f"{self.already_processed} already processed, {self.info_calls} info calls, "
            f"{self.matched} matched, {plural(applied, 'tag')} {verb}, {audit_only} audit-only,"
            f" {self.failed} failed"
            + (f", {awaiting} would apply once promoted" if awaiting else "")
            + (f", {held} held by rails" if held else "")
            + (f", {released} held pairs released" if released else "")
            + (
                f", {self.release_pending} held pairs released by the next live cycle"
                if self.release_pending
                else ""
            )
            + (f", {self.window_splits} window splits" if self.window_splits else "")
            + (f", {len(self.set_aside)} set aside" if self.set_aside else "")
            + (", interrupted" if self.interrupted else "")
        ]
        for rule_id in sorted(self.rules):
            f = self.rules[rule_id]
            count = f.planned - f.audit_only - f.awaiting if self.dry_run else f.applied
            state = (
                " [paused]"
                if rule_id in self.paused
                else " [audit-only: awaiting promotion]"
                if rule_id in self.awaiting
                else " [audit-only: mode audit]"
                if rule_id in self.audit_mode
                else ""
            )
            lines.append(
                f"  rule {rule_id}{state}: {f.matched} matched, {plural(count, 'tag')} {verb}, "
                f"{f.audit_only} audit-only, {f.skipped} already present"
                + (f", would apply {f.awaiting} once promoted" if f.awaiting else "")
                + (f", {f.held} held" if f.held else "")
                + (f", {f.released} released" if f.released else "")
                + (f", {f.dropped} held pairs dropped" if f.dropped else "")
                + (f", {f.expired} held pairs expired" if f.expired else "")
                + self._held_note(rule_id)
            )
        for problem in self.preflight:
            lines.append(f"  preflight failed (nothing applied): {problem}")
        for message in self.new_pauses:
            lines.append(f"  {message}")
        if self.kill_switch:
            lines.append("  every apply is paused (tagger pause --all, or enabled: false)")
        if self.quota_note():
            lines.append(f"  {self.quota_note()}")
        attention = self.needs_operator()
        if attention:
            lines.append(f"  needs attention: {'; '.join(attention)} (see the errors)")
        undone = self.undone()
        if undone:
            lines.append(f"  incomplete: {'; '.join(undone)}; the next run retries")
        if self.saturated:
            lines.append(
                f"  possibly incomplete: {plural(self.saturated, 'window')} still truncated at"
                " window.split_min; lower split_min (or narrow the rules' searches)"
            )
        return lines


def merge_reports(reports: Iterable[CycleReport]) -> list[CycleReport]:
    """Merge the reports of several cycles into one per account, in first-seen order.

    Given reports (e.g. one per backfill slice); returns one report per account
    whose counts, per-rule figures, entries, plan, errors and set-aside ids are
    the sums and concatenations of that account's reports, spanning from the
    first start to the last finish, interrupted if any part was. Windows and
    watermarks keep the latest value per query.
    """
    merged: dict[str, CycleReport] = {}
    for r in reports:
        m = merged.get(r.account)
        if m is None:
            m = merged[r.account] = CycleReport(r.account, r.dry_run, r.started)
        m.started = min(m.started, r.started)
        if r.finished is not None:
            m.finished = r.finished if m.finished is None else max(m.finished, r.finished)
        m.windows.update(r.windows)
        m.watermarks.update(r.watermarks)
        for name, _kept_as in COUNTERS:
            setattr(m, name, getattr(m, name) + getattr(r, name))
        m.interrupted = m.interrupted or r.interrupted
        m.account_error = m.account_error or r.account_error
        m.quota_wait_s += r.quota_wait_s
        m.note_deferred(r.oldest_deferred)
        m.set_aside.extend(r.set_aside)
        m.errors.extend(r.errors)
        m.preflight.extend(r.preflight)
        m.new_pauses.extend(r.new_pauses)
        m.paused = sorted(set(m.paused) | set(r.paused))
        m.awaiting = sorted(set(m.awaiting) | set(r.awaiting))
        m.audit_mode |= r.audit_mode
        m.kill_switch = m.kill_switch or r.kill_switch
        m.entries.extend(r.entries)
        m.audited += r.audited
        m.rule_hashes.update(r.rule_hashes)
        m.plan.extend(r.plan)
        for rule_id, figures in r.rules.items():
            into = m.per_rule(rule_id)
            into.matched += figures.matched
            into.planned += figures.planned
            into.applied += figures.applied
            into.skipped += figures.skipped
            into.held += figures.held
            into.audit_only += figures.audit_only
            into.awaiting += figures.awaiting
            into.released += figures.released
            into.dropped += figures.dropped
            into.expired += figures.expired
        m.release_pending += r.release_pending
        m.held_now.update(r.held_now)
    return list(merged.values())


# Every counter of a report: its field, and its name in the run history (None: not kept).
COUNTERS: tuple[tuple[str, str | None], ...] = (
    ("search_calls", "search_calls"),
    ("window_splits", "window_splits"),
    ("queries_skipped", None),
    ("messages_found", "found"),
    ("already_processed", None),
    ("set_aside_skipped", None),
    ("scanned", "scanned"),
    ("info_calls", "info_calls"),
    ("matched", "matched"),
    ("planned", "planned"),
    ("applied", "applied"),
    ("failed", "failed"),
    ("held_back", None),
    ("saturated", "saturated_windows"),
    ("search_failures", None),
    ("search_refused", None),
    ("quota_deferred", "quota_deferred"),
    ("searches_deferred", "searches_deferred"),
)


def run_counts(report: CycleReport) -> dict[str, int]:
    """Return the counts of a report that the run history keeps (``tagger status`` shows them)."""
    counts = {kept: int(getattr(report, name)) for name, kept in COUNTERS if kept is not None}
    counts["set_aside"] = len(report.set_aside)
    if report.oldest_deferred is not None:
        # The backlog's age: ``tagger status`` and the metrics read it.
        counts["oldest_deferred"] = int(report.oldest_deferred.timestamp())
    return counts
