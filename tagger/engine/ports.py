"""The API client the cycle talks to, as a Protocol (the state is ``tagger.state.api.StateAPI``).

The cycle is given objects that satisfy these, and optionally an observer
told about progress as it happens; the CLI builds the real ones
(``MimecastClient``, ``StateStore`` / ``OverlayState``) and tests may pass the
same real ones against the simulator.
"""

from __future__ import annotations

from datetime import datetime
from typing import Protocol

from tagger.mimecast.criteria import SearchCriteria
from tagger.mimecast.models import MessageInfo, TrackedEmail


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


class CycleObserver(Protocol):
    """Told about a cycle's progress as it happens (metrics, watchdog); must not block."""

    def tag_applied(self, account: str, rule: str, tag: str) -> None:
        """One Smart Tag ``tag`` (as the rule names it) was applied and recorded for ``rule``."""

    def progress(self, account: str) -> None:
        """The cycle of ``account`` completed a step (a search or a chunk of messages)."""


class NullObserver:
    """An observer that ignores everything (the default)."""

    def tag_applied(self, account: str, rule: str, tag: str) -> None:
        """Ignore an applied tag."""

    def progress(self, account: str) -> None:
        """Ignore progress."""
