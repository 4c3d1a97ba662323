"""Strict search: refuse a search by time window alone, as the real service might.

Public integrations refuse to send a message-finder search that sets none of
from, to, subject, senderIP or messageId; whether Mimecast itself refuses one
is not documented. With ``SimulatorConfig.strict_search`` the simulator does,
answering HTTP 200 with a non-retryable ``err_validation_blank`` in ``fail[]``.
"""

from __future__ import annotations

from tagger.simulator.search import SearchQuery

__all__ = ["BLANK_CODE", "BLANK_MESSAGE", "is_bare"]

BLANK_CODE = "err_validation_blank"
BLANK_MESSAGE = "Either one of from, to, subject, senderIP or messageId must not be empty"


def is_bare(query: SearchQuery) -> bool:
    """Return True when ``query`` sets none of from, to, subject, senderIP and messageId."""
    return not any((query.from_, query.to, query.subject, query.sender_ip, query.message_id))
