"""Audit entries read back from JSON Lines files.

Lines that are not JSON objects are reported as located problems and skipped
(a file cut short by a crash keeps every whole line before it). Entries
written before timestamps, run ids and outcomes existed are read too: the
missing fields are left empty and the mode is inferred from ``dry_run``.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

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


def read_records(paths: Iterable[Path]) -> tuple[list[AuditRecord], list[Problem]]:
    """Read every entry of the audit files ``paths``, in order.

    Returns the records and a warning for each line that is not an entry
    (located ``file:line``). Raises OSError when a file cannot be read.
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
    return records, problems


def _decode(line: str) -> AuditRecord | None:
    try:
        data = json.loads(line)
    except json.JSONDecodeError:
        return None
    return AuditRecord.parse(data) if isinstance(data, dict) else None
