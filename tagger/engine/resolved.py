"""Held pairs resolved in a cycle (released, dropped or expired): counts and audit entry.

A held pair is resolved long after its message was judged: its entry knows
the message, the rule and its hash, the tags and what became of them, not
the mail itself (the entry that judged the message has that, and the
report folds the two: :mod:`tagger.audit.matches`).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import datetime
from typing import Protocol

from tagger.audit.entry import Entry
from tagger.engine.figures import CycleFigures
from tagger.state.held import HeldRow

__all__ = ["record_resolved", "resolved_entry"]


class Run(Protocol):
    """What the entry takes from the cycle's report: its run id and whether it is dry."""

    @property
    def run_id(self) -> str: ...
    @property
    def dry_run(self) -> bool: ...


def resolved_entry(
    key: tuple[str, str, str],
    pairs: Sequence[HeldRow],
    outcome: str,
    note: str,
    at: datetime,
    run: Run,
) -> Entry:
    """Return the entry of one message's resolved pairs of one rule.

    Given (message id, rule id, rule hash), the pairs, the outcome
    (``released``, ``dropped`` or ``expired``; see
    :attr:`~tagger.audit.entry.Entry.outcome`), why (``note``; empty for a
    release), when, and the cycle's report.
    """
    message_id, rule_id, rule_hash = key
    received = pairs[0].received
    return Entry(
        message_id=message_id,
        received=received.isoformat() if received else None,
        sender="",
        subject=None,
        rule=rule_id,
        rule_mode="enforce",
        tags=tuple(p.tag_ref for p in pairs),
        planned=tuple(p.tag_id for p in pairs),
        skipped=(),
        explanation=None,
        at=at,
        run_id=run.run_id,
        dry_run=run.dry_run,
        rule_hash=rule_hash,
        failure=note or None,
        rail=outcome,
    )


def record_resolved(
    report: CycleFigures, rows: Iterable[HeldRow], outcome: str, note: str = ""
) -> None:
    """Count held pairs resolved this cycle and keep one audit entry per message and rule.

    Given the cycle's ``report`` and the resolved ``rows``; changes the report.

    ``outcome`` is ``released`` (applied now, or found on the message),
    ``dropped`` or ``expired``; ``note`` says why (shown as the entry's error).
    """
    groups: dict[tuple[str, str, str], list[HeldRow]] = {}
    for row in rows:
        groups.setdefault((row.message_id, row.rule_id, row.rule_hash), []).append(row)
        figures = report.per_rule(row.rule_id)
        if outcome == "released":
            figures.released += 1
        elif outcome == "expired":
            figures.expired += 1
        else:
            figures.dropped += 1
    if report.keep_entries and groups:
        at = report.clock()
        for key, pairs in groups.items():
            report.entries.append(resolved_entry(key, pairs, outcome, note, at, report))
