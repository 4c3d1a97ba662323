"""Audit records folded into matches: each message once per rule, its outcomes side by side (pure).

The audit file may hold several entries for one message and rule: an
``audit`` entry while the rule awaited promotion and an ``applied`` one when
it was released, a ``failed`` one and the retry's ``applied``, or the same
outcome twice when a cycle judged the message again (older files, written
while rails held windows, repeat every cycle). A reviewer counts messages and
tags, not lines: :func:`fold` gives one :class:`Match` per (account, message,
rule), with every outcome once in the order they happened and the outcome
that stands.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace

from tagger.audit.records import AuditRecord

__all__ = ["Match", "fold"]

# Outcomes that say a message was applied or will be, for the chart's split.
APPLIED = frozenset({"applied"})
HELD_BACK = frozenset({"audit", "would-apply", "held"})


@dataclass(frozen=True, slots=True)
class Match:
    """One rule's match of one message: its latest entry and every outcome it had.

    ``outcomes`` are distinct, oldest first; ``tags`` every tag the rule
    wanted on the message across the entries.
    """

    record: AuditRecord
    outcomes: tuple[str, ...]
    tags: tuple[str, ...]
    hashes: tuple[str, ...]

    @property
    def outcome(self) -> str:
        """Return the outcome that stands: the latest, unless only ``already-tagged`` followed.

        A message judged again after its tag was applied reads
        ``already-tagged``; the outcome that stands is still what happened before.
        """
        standing = [o for o in self.outcomes if o != "already-tagged"]
        return standing[-1] if standing else "already-tagged"

    @property
    def side_by_side(self) -> str:
        """Return the outcomes in the order they happened (``audit → applied``)."""
        return " → ".join(self.outcomes)

    @property
    def kind(self) -> str:
        """Return ``applied``, ``held`` (audit, would-apply, held) or ``other``, for the chart."""
        if self.outcome in APPLIED:
            return "applied"
        return "held" if self.outcome in HELD_BACK else "other"


def fold(records: Iterable[AuditRecord]) -> list[Match]:
    """Return one match per (account, message, rule) of ``records``, in first-seen order.

    Given the records in file order (oldest first); each match keeps the
    latest record (for what is shown) and every outcome once.
    """
    latest: dict[tuple[str, str, str], AuditRecord] = {}
    outcomes: dict[tuple[str, str, str], list[str]] = {}
    tags: dict[tuple[str, str, str], list[str]] = {}
    hashes: dict[tuple[str, str, str], list[str]] = {}
    for record in records:
        key = (record.account, record.message_id, record.rule)
        before = latest.get(key)
        if before is not None and not (record.sender or record.subject):
            # A released pair's entry knows only the message id: the mail's own
            # fields (and the explanation) come from the entry that judged it.
            record = replace(
                record,
                sender=before.sender,
                recipients=before.recipients,
                subject=before.subject,
                received=record.received or before.received,
                explanation=record.explanation or before.explanation,
            )
        latest[key] = record
        seen = outcomes.setdefault(key, [])
        if record.outcome not in seen:
            seen.append(record.outcome)
        mine = tags.setdefault(key, [])
        mine.extend(t for t in record.tags if t not in mine)
        known = hashes.setdefault(key, [])
        if record.rule_hash and record.rule_hash not in known:
            known.append(record.rule_hash)
    return [
        Match(latest[key], tuple(outcomes[key]), tuple(tags[key]), tuple(hashes[key]))
        for key in latest
    ]
