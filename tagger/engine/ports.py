"""The API client the cycle talks to, as a Protocol (the state is ``tagger.state.api.StateAPI``).

The cycle is given objects that satisfy these; the CLI builds the real ones
(``MimecastClient``, ``StateStore`` / ``OverlayState``) and tests may pass the
same real ones against the simulator.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from tagger.mimecast.models import MessageInfo, SearchCriteria, TrackedEmail


class SearchResultLike(Protocol):
    """What a search returns: the tracked emails of one window."""

    @property
    def emails(self) -> tuple[TrackedEmail, ...]: ...


class ApiClient(Protocol):
    """The Mimecast calls one cycle makes."""

    async def search(
        self, criteria: SearchCriteria, start: datetime, end: datetime
    ) -> SearchResultLike: ...

    async def get_message_info(self, message_id: str) -> MessageInfo: ...

    async def apply_smart_tag(self, message_id: str, tag_id: str) -> None: ...
