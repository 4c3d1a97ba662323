"""Message-finder search criteria: what a rule's ``search`` section selects."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from tagger.mimecast.models import JSON, format_time


@dataclass(frozen=True, slots=True)
class SearchCriteria:
    """Message-finder search criteria (everything except the time window).

    Rules with equal criteria share one search; the daemon adds ``start`` and
    ``end`` per window. ``routes`` and ``statuses`` are sorted tuples so that
    equal criteria compare and hash equal.
    """

    routes: tuple[str, ...] = ()
    statuses: tuple[str, ...] = ()
    attachments: bool | None = None
    from_: str | None = None
    to: str | None = None
    subject: str | None = None
    sender_ip: str | None = None
    url: str | None = None
    message_id: str | None = None
    search_reason: str = "tagger auto-tagging"

    def key(self) -> str:
        """Return a stable text key for this criteria (used for watermarks)."""
        parts = [
            "route=" + ",".join(self.routes),
            "status=" + ",".join(self.statuses),
            f"attachments={self.attachments}",
            f"from={self.from_ or ''}",
            f"to={self.to or ''}",
            f"subject={self.subject or ''}",
            f"senderIP={self.sender_ip or ''}",
            f"url={self.url or ''}",
            f"messageId={self.message_id or ''}",
        ]
        return ";".join(parts)

    def to_request(self, start: datetime | None, end: datetime | None) -> JSON:
        """Build the ``data[0]`` item of a search request for the given window."""
        item: JSON = {"searchReason": self.search_reason}
        if start is not None:
            item["start"] = format_time(start)
        if end is not None:
            item["end"] = format_time(end)
        if self.message_id:
            item["messageId"] = self.message_id
        if self.routes:
            item["route"] = list(self.routes)
        if self.statuses:
            item["status"] = list(self.statuses)
        if self.attachments is not None:
            item["attachments"] = self.attachments
        advanced = {
            k: v
            for k, v in (
                ("from", self.from_),
                ("to", self.to),
                ("subject", self.subject),
                ("senderIP", self.sender_ip),
                ("url", self.url),
            )
            if v
        }
        if advanced:
            item["advancedTrackAndTraceOptions"] = advanced
        return item
