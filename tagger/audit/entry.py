"""One entry of the audit trail: a rule matched a message (pure data).

The engine builds the entries of a cycle (:mod:`tagger.engine.tally`); the
writer appends them (:mod:`tagger.audit.writer`); the readers parse them back
(:mod:`tagger.audit.records`). Each entry says what became of the match in
one word (:attr:`Entry.outcome`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

__all__ = ["INTENT", "Entry", "Span", "intent_record", "safe_text", "safe_value"]

# The outcome of a write-ahead record: its apply is about to be sent, and what
# became of it is the entry of the same run that follows (see
# :mod:`tagger.audit.journal`).
INTENT = "applying"

# What mail text may not carry into the record: lone surrogates (no encoding
# can write them), NUL and the other C0/C1 controls but tab, newline and CR.
_UNSAFE = re.compile("[\ud800-\udfff\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
REPLACEMENT = "\ufffd"


def safe_text(text: str) -> str:
    """Return ``text`` with every character no record can safely hold replaced by U+FFFD.

    Applied where text from mail enters an audit entry, so that writing the
    entry (UTF-8), reading it back and showing it (terminal, CSV, HTML) can
    never fail or be steered by a hostile subject.
    """
    return _UNSAFE.sub(REPLACEMENT, text)


def safe_value(value: Any) -> Any:
    """Return ``value`` (JSON-like) with :func:`safe_text` applied to every text in it."""
    if isinstance(value, str):
        return safe_text(value)
    if isinstance(value, list | tuple):
        return [safe_value(v) for v in value]
    if isinstance(value, dict):
        return {safe_text(str(k)): safe_value(v) for k, v in value.items()}
    return value


class Span(Protocol):
    """A span of received time (the window a cycle searched)."""

    @property
    def start(self) -> datetime: ...

    @property
    def end(self) -> datetime: ...


@dataclass(frozen=True, slots=True)
class Entry:
    """One line of the audit report: a rule matched a message (pure data).

    ``at`` is when the decision was recorded; ``run_id`` names the account's
    cycle that made it; ``window`` is the span of received time that cycle
    searched; ``rule_mode`` is the rule's own mode (enforce or audit);
    ``failure`` is the error of a live run that could not finish the
    message (its tags are retried by the next run).
    """

    message_id: str
    received: str | None
    sender: str
    subject: str | None
    rule: str
    rule_mode: str
    tags: tuple[str, ...]
    planned: tuple[str, ...]
    skipped: tuple[tuple[str, str], ...]
    explanation: Any
    at: datetime | None = None
    run_id: str = ""
    dry_run: bool = False
    window: Span | None = None
    rule_hash: str = ""
    recipients: tuple[str, ...] = ()
    failure: str | None = None
    # Why a rail kept the planned tags back: "awaiting" (the rule awaits
    # promotion), "held" (the rule is paused, or the kill switch is on); or what
    # became of pairs held before: "released" (applied now), "dropped" (released
    # without the backlog, or the rule changed), "expired" (older than tracking); "" none.
    rail: str = ""

    @property
    def mode(self) -> str:
        """Return ``dry-run``, ``audit`` (audit mode or awaiting promotion) or ``live``."""
        if self.dry_run:
            return "dry-run"
        return "audit" if self.rule_mode == "audit" or self.rail == "awaiting" else "live"

    @property
    def outcome(self) -> str:
        """Return what became of the match, in one word.

        ``applied`` (a live run applied its tags), ``would-apply`` (a dry run:
        the tags are planned, never applied), ``already-tagged`` (every tag was
        on the message or recorded before), ``failed`` (a live apply failed;
        the next run retries it), ``audit`` (audit-only: a ``mode: audit``
        rule, or one awaiting promotion, applied once promoted), ``held`` (the
        rule is paused or the kill switch is on: applied once lifted),
        ``dropped`` or ``expired`` (a held pair that will never be applied:
        released without the backlog or its rule changed, or older than the
        service's tracking retention).
        """
        if self.rail in ("dropped", "expired"):
            return self.rail
        if self.failure is not None and self.mode == "live":
            return "failed"
        if not self.planned:
            return "already-tagged"
        if self.rail == "awaiting":
            return "audit"
        if self.rail == "held":
            return "held"
        return {"live": "applied", "audit": "audit"}.get(self.mode, "would-apply")

    def to_json(self) -> dict[str, Any]:
        """Return the JSON Lines record for this entry."""
        return {
            "timestamp": self.at.isoformat() if self.at is not None else None,
            "run_id": self.run_id,
            "mode": self.mode,
            "dry_run": self.dry_run,
            "window": (
                {"start": self.window.start.isoformat(), "end": self.window.end.isoformat()}
                if self.window is not None
                else None
            ),
            "rule": self.rule,
            "rule_hash": self.rule_hash,
            "rule_mode": self.rule_mode,
            "message_id": self.message_id,
            "received": self.received,
            "sender": self.sender,
            "recipients": list(self.recipients),
            "subject": self.subject,
            "tags": list(self.tags),
            "planned_tag_ids": list(self.planned),
            "skipped": [{"tag_id": t, "reason": r} for t, r in self.skipped],
            "outcome": self.outcome,
            "error": self.failure,
            "explanation": self.explanation,
        }


def intent_record(
    *,
    account: str,
    run_id: str,
    at: datetime,
    rule: str,
    rule_hash: str,
    message_id: str,
    received: datetime | None,
    sender: str,
    recipients: tuple[str, ...],
    subject: str | None,
    tag: str,
    tag_id: str,
) -> dict[str, Any]:
    """Return the write-ahead record of one apply about to be sent (mail text made safe).

    Its outcome is ``applying`` and ``record`` says ``intent``: it says the
    request is going out, not that it succeeded; the entry of the same run
    that follows says what became of it.
    """
    return {
        "account": account,
        "timestamp": at.isoformat(),
        "run_id": run_id,
        "record": "intent",
        "mode": "live",
        "dry_run": False,
        "window": None,
        "rule": rule,
        "rule_hash": rule_hash,
        "rule_mode": "enforce",
        "message_id": safe_text(message_id),
        "received": received.isoformat() if received is not None else None,
        "sender": safe_text(sender),
        "recipients": [safe_text(r) for r in recipients],
        "subject": None if subject is None else safe_text(subject),
        "tags": [tag],
        "planned_tag_ids": [tag_id],
        "skipped": [],
        "outcome": INTENT,
        "error": None,
        "explanation": None,
    }
