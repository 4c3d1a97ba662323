"""A message found by a cycle, and why one could not be finished (pure data).

The cycle merges each query's answer into one :class:`Candidate` per message;
a message whose info read or apply failed carries a :class:`Failure`, which
the ledger counts (:meth:`tagger.engine.ledger.Ledger.settle`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import NamedTuple

from tagger.mimecast.errors import AuthenticationError, MimecastError, TransportError
from tagger.mimecast.models import TrackedEmail

__all__ = ["AccountLevelFailure", "Candidate", "Failure"]


@dataclass
class Candidate:
    """A message found this cycle, the rules whose searches found it, and their queries."""

    summary: TrackedEmail
    rule_ids: set[str] = field(default_factory=set)
    queries: set[str] = field(default_factory=set)


class Failure(NamedTuple):
    """Why a message could not be finished this cycle.

    ``transient`` is the client's ``retryable`` verdict on the last error: true
    for 429s, 5xx and network errors that outlasted its retries;
    ``account_level`` is true for errors that concern the whole account
    (credentials or permissions refused, key binding expired, TLS failing).
    """

    error: str
    transient: bool
    account_level: bool = False

    @classmethod
    def of(cls, exc: MimecastError, fallback: str) -> Failure:
        """Return the failure ``exc`` stands for (``fallback``: its text when it has none)."""
        account_level = isinstance(exc, AuthenticationError) or (
            isinstance(exc, TransportError) and exc.tls
        )
        return cls(str(exc) or fallback, exc.retryable, account_level)


class AccountLevelFailure(MimecastError):
    """A message failure that concerns the whole account reached :meth:`Ledger.settle`."""
