"""Audit entries as CSV: one row per match, the data behind every figure of the HTML report.

A match is one message once per rule (:mod:`tagger.audit.matches`): its
``outcome`` is the one that stands and ``outcomes`` every outcome it had, in
order (``audit;applied``), so the rows count messages, as the report does.

Cells that a spreadsheet would run as a formula (starting with ``=``, ``+``,
``-``, ``@``, tab or carriage return) are prefixed with ``'``: subjects and
addresses come from mail and may be crafted to attack the reviewer's
spreadsheet.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import TextIO

from tagger.audit.explanation import why
from tagger.audit.matches import fold
from tagger.audit.records import AuditRecord

COLUMNS = (
    "timestamp",
    "run_id",
    "account",
    "mode",
    "outcome",
    "outcomes",
    "rule",
    "rule_hash",
    "message_id",
    "received",
    "sender",
    "sender_domain",
    "recipients",
    "subject",
    "tags",
    "error",
    "window_start",
    "window_end",
    "why",
)
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def _cell(value: object) -> str:
    if value is None:
        return ""
    if isinstance(value, datetime):
        text = f"{value.astimezone(UTC):%Y-%m-%dT%H:%M:%SZ}"
    else:
        text = str(value)
    return "'" + text if text.startswith(_FORMULA) else text


def write_csv(records: Iterable[AuditRecord], out: TextIO) -> int:
    """Write a header and one row per match of ``records`` to ``out``; returns the rows written.

    Each row shows the match's latest entry, with the outcome that stands,
    every outcome in order and every tag the rule wanted on the message.
    """
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS)
    count = 0
    for match in fold(records):
        r = match.record
        row = (
            r.timestamp,
            r.run_id,
            r.account,
            r.mode,
            match.outcome,
            ";".join(match.outcomes),
            r.rule,
            r.rule_hash,
            r.message_id,
            r.received,
            r.sender,
            r.sender_domain,
            ";".join(r.recipients),
            r.subject,
            ";".join(match.tags),
            r.error,
            r.window_start,
            r.window_end,
            why(r.explanation),
        )
        writer.writerow([_cell(v) for v in row])
        count += 1
    return count
