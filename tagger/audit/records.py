"""Audit entries read back from JSON Lines files.

Lines that are not JSON objects are reported as located problems and skipped
(a file cut short by a crash keeps every whole line before it). Entries
written before timestamps, run ids and outcomes existed are read too: the
missing fields are left empty and the mode is inferred from ``dry_run``.
The write-ahead records of applies (outcome ``applying``) are paired with the
outcome that follows them (:func:`resolve_intents`), so each apply counts once.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from tagger.audit.entry import INTENT
from tagger.errors import Problem
from tagger.mimecast.models import parse_time


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """One audit entry: a rule matched a message (see ``Entry.to_json``)."""

    rule: str
    message_id: str
    mode: str
    outcome: str
    account: str = ""
    timestamp: datetime | None = None
    run_id: str = ""
    rule_hash: str = ""
    window_start: datetime | None = None
    window_end: datetime | None = None
    received: datetime | None = None
    sender: str = ""
    recipients: tuple[str, ...] = ()
    subject: str = ""
    tags: tuple[str, ...] = ()
    error: str = ""
    explanation: Any = None

    @property
    def sender_domain(self) -> str:
        """Return the domain of the sender address, lower case (empty when there is none)."""
        _, at, domain = self.sender.rpartition("@")
        return domain.lower() if at else ""

    @property
    def when(self) -> datetime | None:
        """Return when the message was received, else when the decision was made."""
        return self.received or self.timestamp

    @classmethod
    def parse(cls, data: Mapping[str, Any]) -> AuditRecord | None:
        """Return the record of one decoded line, or None when it names no rule or message."""
        rule, message_id = data.get("rule"), data.get("message_id")
        if not isinstance(rule, str) or not rule or not isinstance(message_id, str):
            return None
        found = data.get("window")
        window: Mapping[str, Any] = found if isinstance(found, Mapping) else {}
        mode = _text(data.get("mode"))
        if mode not in ("live", "dry-run", "audit"):
            # Entries of older versions: ``mode`` was the rule's mode.
            mode = "dry-run" if data.get("dry_run") else ("audit" if mode == "audit" else "live")
        outcome = _text(data.get("outcome")) or _old_outcome(data, mode)
        return cls(
            rule=rule,
            message_id=message_id,
            mode=mode,
            outcome=outcome,
            account=_text(data.get("account")),
            timestamp=parse_time(data.get("timestamp")),
            run_id=_text(data.get("run_id")),
            rule_hash=_text(data.get("rule_hash")),
            window_start=parse_time(window.get("start")),
            window_end=parse_time(window.get("end")),
            received=parse_time(data.get("received")),
            sender=_text(data.get("sender")),
            recipients=_texts(data.get("recipients")),
            subject=_text(data.get("subject")),
            tags=_texts(data.get("tags")),
            error=_text(data.get("error")),
            explanation=data.get("explanation"),
        )


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _texts(value: Any) -> tuple[str, ...]:
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def _old_outcome(data: Mapping[str, Any], mode: str) -> str:
    if not data.get("planned_tag_ids"):
        return "already-tagged"
    return {"live": "applied", "audit": "audit"}.get(mode, "would-apply")


def resolve_intents(records: Sequence[AuditRecord]) -> list[AuditRecord]:
    """Return ``records`` with each write-ahead record settled by the outcome after it (pure).

    "After" is by timestamp (the files may be given in any order; a rotated
    file holds older lines), ties in the order given. An intent (outcome
    ``applying``) is about one (account, message, rule):

    - followed by an entry of the same run, it is dropped: that entry is the outcome;
    - followed first by an ``already-tagged`` entry of a later run (the run that
      sent it ended before writing its outcome, and the next one found the tag
      on the message or in the state), it becomes ``applied`` and that entry is
      dropped, so the apply counts once;
    - followed first by any other entry of a later run, it is dropped (that
      entry is the outcome);
    - followed first by an intent of a later run (the pair was tried again),
      it is dropped: the later attempt stands for both;
    - followed by nothing, it stays ``applying``: sent, outcome unknown.

    Several intents of one (run, message, rule) (one per tag, or a retry)
    count once. The records kept are returned in the order given.
    """
    order = sorted(range(len(records)), key=lambda i: _sort_time(records[i]))
    kept: dict[int, AuditRecord] = dict(enumerate(records))
    # (account, message, rule) -> index of its unresolved intent.
    open_intents: dict[tuple[str, str, str], int] = {}
    for i in order:
        record = records[i]
        key = (record.account, record.message_id, record.rule)
        index = open_intents.get(key)
        if record.outcome == INTENT:
            if index is not None and records[index].run_id == record.run_id:
                del kept[i]  # another tag of it, or a retry: one apply decision
                continue
            if index is not None:
                del kept[index]  # an earlier run's attempt, superseded by this one
            open_intents[key] = i
            continue
        if index is None:
            continue
        del open_intents[key]
        intent = records[index]
        if intent.run_id != record.run_id and record.outcome == "already-tagged":
            kept[index] = replace(intent, outcome="applied")
            del kept[i]
        else:
            del kept[index]
    return [kept[i] for i in sorted(kept)]


def _sort_time(record: AuditRecord) -> datetime:
    return record.timestamp if record.timestamp is not None else _EARLIEST


_EARLIEST = datetime.min.replace(tzinfo=UTC)


def read_records(paths: Iterable[Path]) -> tuple[list[AuditRecord], list[Problem]]:
    """Read every entry of the audit files ``paths``, in order, intents resolved.

    Each write-ahead record is settled by :func:`resolve_intents` (over all
    the files together, so an intent and its outcome may sit in a file and
    its rotated copy). Returns the records and a warning for each line
    that is not an entry (located ``file:line``). Raises OSError when a file
    cannot be read.
    """
    records: list[AuditRecord] = []
    problems: list[Problem] = []
    for path in paths:
        with path.open(encoding="utf-8", errors="replace") as lines:
            for number, line in enumerate(lines, start=1):
                if not line.strip():
                    continue
                record = _decode(line)
                if record is None:
                    problems.append(
                        Problem(
                            "not an audit entry; skipped",
                            file=str(path),
                            line=number,
                            severity="warning",
                        )
                    )
                    continue
                records.append(record)
    return resolve_intents(records), problems


def _decode(line: str) -> AuditRecord | None:
    try:
        data = json.loads(line)
    except json.JSONDecodeError:
        return None
    return AuditRecord.parse(data) if isinstance(data, dict) else None
