"""What a release would do with held pairs, for ``promote`` and ``resume`` (shown, then done).

``promote RULE``, ``resume RULE`` and ``resume --all`` show the held pairs
they release: distinct messages and pairs, per account, those older than
the service's tracking retention (expired, never tried) and those of an
earlier definition of the rule (dropped). On confirmation the rail is lifted
and the next cycle applies the pairs through the engine's one apply path,
paced by the quota; ``--from-now`` drops them instead, and the drop is
written to the audit file so the report says so.
"""

from __future__ import annotations

import sys
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from tagger.audit.writer import write_entries, write_failure
from tagger.engine.release import CHANGED, TRACKING_RETENTION
from tagger.engine.resolved import record_resolved
from tagger.engine.tally import CycleReport
from tagger.state import StateStore
from tagger.state.held import DROPPED, HeldFilter, HeldRow

FROM_NOW = "released from now on without the backlog (--from-now)"


@dataclass(frozen=True, slots=True)
class Backlog:
    """The held pairs a release concerns: those it applies, those expired, those stale.

    ``stale`` are pairs of an earlier definition of the rule (dropped on release).
    """

    rows: tuple[HeldRow, ...]
    expired: tuple[HeldRow, ...]
    stale: tuple[HeldRow, ...]

    @classmethod
    def of(
        cls,
        rows: Iterable[HeldRow],
        now: datetime,
        current_hash: str | None = None,
    ) -> Backlog:
        """Sort ``rows`` (open held pairs) by what a release at ``now`` does with each.

        ``current_hash`` is the rule's definition now (None: any hash is current).
        """
        cut = now - TRACKING_RETENTION
        live, expired, stale = [], [], []
        for row in rows:
            if current_hash is not None and row.rule_hash != current_hash:
                stale.append(row)
            elif (row.received or row.held_at) < cut:
                expired.append(row)
            else:
                live.append(row)
        return cls(tuple(live), tuple(expired), tuple(stale))


def counted(rows: Sequence[HeldRow]) -> str:
    """Return ``rows`` counted as people read them: ``62 messages, 70 tags``."""
    messages = len({(r.account, r.message_id) for r in rows})
    pairs = len({(r.account, r.message_id, r.tag_id) for r in rows})
    return f"{messages} message{'s' * (messages != 1)}, {pairs} tag{'s' * (pairs != 1)}"


def describe(backlog: Backlog, what: str) -> list[str]:
    """Return the lines that show ``backlog`` (``what`` names the rail, e.g. ``held``)."""
    lines = [f"{what}: {counted(backlog.rows)}"]
    accounts = sorted({r.account for r in backlog.rows})
    if len(accounts) > 1:
        for account in accounts:
            mine = [r for r in backlog.rows if r.account == account]
            lines.append(f"  account {account}: {counted(mine)}")
    if backlog.rows:
        oldest = min(r.received or r.held_at for r in backlog.rows)
        lines.append(f"  the oldest was received {oldest:%Y-%m-%d %H:%M}Z")
    if backlog.expired:
        lines.append(
            f"  expired, not tried: {counted(backlog.expired)} (older than the service's"
            f" {TRACKING_RETENTION.days}-day tracking retention)"
        )
    if backlog.stale:
        lines.append(
            f"  dropped: {counted(backlog.stale)} held under an earlier definition of the rule"
            " (its new definition is judged on new mail; backfill --rule covers the past)"
        )
    return lines


def confirm(question: str, yes: bool) -> bool | None:
    """Return the operator's answer to ``question`` (True with ``yes``; None: no terminal)."""
    if yes:
        return True
    if not sys.stdin.isatty():
        return None
    answer = input(f"{question} [y/N] ")
    return answer.strip().lower() in ("y", "yes")


def drop(
    store: StateStore,
    rows: Iterable[HeldRow],
    note: str,
    at: datetime,
    audit: Path | None,
) -> list[HeldRow]:
    """Mark ``rows`` dropped (``note`` says why) and write one audit entry per message and rule.

    Returns the rows dropped (those still held). The audit file, when
    configured, gets the entries (outcome ``dropped``), so the report says
    what was never applied and why; a file that cannot be written is named
    on standard error (the drop stands: the state is the record).
    """
    dropped: list[HeldRow] = []
    by_key: dict[tuple[str, str, str], list[HeldRow]] = {}
    for row in rows:
        by_key.setdefault((row.rule_id, row.rule_hash, row.account), []).append(row)
    for (rule_id, rule_hash, account), mine in by_key.items():
        which = HeldFilter(
            account=account,
            rule_ids=frozenset({rule_id}),
            reasons=frozenset(r.reason for r in mine),
            rule_hash=rule_hash,
        )
        dropped += store.release_held(DROPPED, at, note, which)
    if audit is not None and dropped:
        reports = []
        for account in sorted({r.account for r in dropped}):
            report = CycleReport(account, False, at, at)
            record_resolved(report, [r for r in dropped if r.account == account], "dropped", note)
            reports.append(report)
        try:
            write_entries(audit, reports)
        except OSError as exc:
            print(f"error: {write_failure(audit, exc)}", file=sys.stderr)
    return dropped


def drop_stale(store: StateStore, backlog: Backlog, at: datetime, audit: Path | None) -> None:
    """Drop the pairs of ``backlog`` held under an earlier definition of their rule."""
    if backlog.stale:
        drop(store, backlog.stale, CHANGED, at, audit)
