"""What one cycle did: counts, per-rule figures, and the audit entries (pure data)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from tagger.engine.plan import MessagePlan
from tagger.engine.window import Window
from tagger.mimecast.models import TrackedEmail


class DecisionLike(Protocol):
    """The parts of a rule decision the report keeps."""

    @property
    def rule_id(self) -> str: ...

    @property
    def tags(self) -> tuple[str, ...]: ...

    @property
    def mode(self) -> str: ...

    def explanation_json(self) -> Any: ...


@dataclass
class RuleFigures:
    """Per-rule counts for one cycle."""

    matched: int = 0
    planned: int = 0
    applied: int = 0
    skipped: int = 0


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of the audit report: a rule matched a message."""

    message_id: str
    received: str | None
    sender: str
    subject: str | None
    rule: str
    mode: str
    tags: tuple[str, ...]
    planned: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...]
    explanation: Any

    def to_json(self) -> dict[str, Any]:
        """Return the JSON Lines record for this entry."""
        return {
            "message_id": self.message_id,
            "received": self.received,
            "sender": self.sender,
            "subject": self.subject,
            "rule": self.rule,
            "mode": self.mode,
            "tags": list(self.tags),
            "planned_tag_ids": list(self.planned),
            "skipped": [{"tag_id": t, "reason": r} for t, r in self.skipped],
            "explanation": self.explanation,
        }


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
    saturated: int = 0
    search_failures: int = 0
    search_refused: int = 0
    interrupted: bool = False
    account_error: str | None = None
    set_aside: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    rules: dict[str, RuleFigures] = field(default_factory=dict)
    entries: list[Entry] = field(default_factory=list)
    plan: list[tuple[str, str, str]] = field(default_factory=list)

    def per_rule(self, rule_id: str) -> RuleFigures:
        """Return (creating if needed) the figures of one rule."""
        return self.rules.setdefault(rule_id, RuleFigures())

    def add_decisions(
        self, summary: TrackedEmail, decisions: Iterable[DecisionLike], plan: MessagePlan
    ) -> None:
        """Record the decisions and plan made for one message."""
        decisions = list(decisions)
        if decisions:
            self.matched += 1
        for decision in decisions:
            figures = self.per_rule(decision.rule_id)
            figures.matched += 1
            mine = [a for a in plan.actions if a.rule_id == decision.rule_id]
            skipped = [s for s in plan.skipped if s.rule_id == decision.rule_id]
            figures.planned += len(mine)
            figures.skipped += len(skipped)
            sender = summary.from_hdr.email or summary.from_env.email
            self.entries.append(
                Entry(
                    message_id=summary.id,
                    received=summary.received.isoformat() if summary.received else None,
                    sender=sender,
                    subject=summary.subject,
                    rule=decision.rule_id,
                    mode=decision.mode,
                    tags=tuple(decision.tags),
                    planned=tuple(a.tag_id for a in mine),
                    skipped=tuple((s.tag_id, s.reason) for s in skipped),
                    explanation=decision.explanation_json(),
                )
            )
        for action in plan.actions:
            self.planned += 1
            self.plan.append((action.message_id, action.tag_id, action.mode))

    def undone(self) -> list[str]:
        """Return what this cycle left for the next run, one phrase each (empty: nothing).

        Undone work is a message that failed without being set aside, a query
        whose window was held back, a failed search, an account whose cycle
        could not run, or a stop request. (A window still truncated at
        ``split_min`` is not retried by itself: the operator must act.)
        """
        out = []
        if self.account_error is not None:
            out.append("the account's cycle could not run")
        if self.search_failures:
            out.append(f"{self.search_failures} searches failed")
        retried = self.failed - len(self.set_aside)
        if retried > 0:
            out.append(f"{retried} messages failed")
        if self.held_back:
            out.append(f"{self.held_back} windows held back")
        if self.interrupted:
            out.append("stopped before the end")
        return out

    def summary_lines(self) -> list[str]:
        """Return the human summary: one line for the account and one per rule."""
        verb = "would apply" if self.dry_run else "applied"
        applied = self.planned if self.dry_run else self.applied
        lines = [
            f"account {self.account}: {self.messages_found} found, {self.scanned} scanned, "
            f"{self.already_processed} already processed, {self.info_calls} info calls, "
            f"{self.matched} matched, {applied} tags {verb}, {self.failed} failed"
            + (f", {self.window_splits} window splits" if self.window_splits else "")
            + (f", {len(self.set_aside)} set aside" if self.set_aside else "")
            + (", interrupted" if self.interrupted else "")
        ]
        for rule_id in sorted(self.rules):
            f = self.rules[rule_id]
            count = f.planned if self.dry_run else f.applied
            lines.append(
                f"  rule {rule_id}: {f.matched} matched, {count} tags {verb}, "
                f"{f.skipped} already present"
            )
        undone = self.undone()
        if undone:
            lines.append(f"  incomplete: {'; '.join(undone)}; the next run retries")
        if self.saturated:
            lines.append(
                f"  possibly incomplete: {self.saturated} windows still truncated at"
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
        for name in _COUNTS:
            setattr(m, name, getattr(m, name) + getattr(r, name))
        m.interrupted = m.interrupted or r.interrupted
        m.account_error = m.account_error or r.account_error
        m.set_aside.extend(r.set_aside)
        m.errors.extend(r.errors)
        m.entries.extend(r.entries)
        m.plan.extend(r.plan)
        for rule_id, figures in r.rules.items():
            into = m.per_rule(rule_id)
            into.matched += figures.matched
            into.planned += figures.planned
            into.applied += figures.applied
            into.skipped += figures.skipped
    return list(merged.values())


_COUNTS = (
    "search_calls",
    "window_splits",
    "queries_skipped",
    "messages_found",
    "already_processed",
    "set_aside_skipped",
    "scanned",
    "info_calls",
    "matched",
    "planned",
    "applied",
    "failed",
    "held_back",
    "saturated",
    "search_failures",
    "search_refused",
)
