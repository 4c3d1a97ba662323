"""Immutable rows passed into and out of the state store."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class AppliedRow:
    """One (message, tag) pair applied by ``rule_id`` (content hash ``rule_hash``)."""

    message_id: str
    tag_id: str
    rule_id: str
    rule_hash: str
    mode: str
    at: datetime


@dataclass(frozen=True, slots=True)
class FailureRow:
    """A message whose processing keeps failing; ``set_aside_at`` once given up on."""

    account: str
    message_id: str
    attempts: int
    first_at: datetime
    last_at: datetime
    last_error: str
    set_aside_at: datetime | None = None


@dataclass(frozen=True, slots=True)
class RunRow:
    """One cycle (``kind`` is e.g. ``run``, ``once``, ``backfill``, ``dry-run``)."""

    id: int
    kind: str
    account: str
    dry_run: bool
    started_at: datetime
    finished_at: datetime | None
    status: str
    counts: Mapping[str, int] = field(default_factory=dict)
    error: str | None = None


@dataclass(frozen=True, slots=True)
class SearchCapRow:
    """What one account's message-finder search revealed about its result cap.

    ``learned`` is a result count shown to be truncated (the cap), None while
    unknown; ``largest`` the most results any search returned; ``confirmed``
    how many windows returning ``largest`` results were shown to be complete.
    """

    learned: int | None
    largest: int
    confirmed: int
    updated_at: datetime
