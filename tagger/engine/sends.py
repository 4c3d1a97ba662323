"""The applies this process has under way, for ``tagger pause`` to wait on.

Every apply is cleared at the moment it is sent (:mod:`tagger.mimecast.clearance`):
the kill switch and the rule's pause are read from the state then. What a
stop request must still wait for is the sends cleared *before* it was seen:
:meth:`Sends.mark` numbers the sends under way, and :meth:`Sends.drained`
waits until every one of them up to a mark has its answer. One tracker per
process, shared by every account and every cycle (and kept across reloads).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from contextlib import contextmanager

__all__ = ["Sends"]

# How often a wait for the sends under way looks again (seconds).
POLL_S = 0.005


class Sends:
    """The sends under way in this process (see the module docstring). One event loop."""

    def __init__(self) -> None:
        self._next = 0
        self._open: set[int] = set()

    @contextmanager
    def one(self) -> Iterator[None]:
        """Count one send under way for as long as the context lasts."""
        self._next += 1
        number = self._next
        self._open.add(number)
        try:
            yield
        finally:
            self._open.discard(number)

    def under_way(self) -> int:
        """Return how many sends are under way now."""
        return len(self._open)

    def mark(self) -> int:
        """Return the number of the latest send started: :meth:`drained` waits up to it."""
        return self._next

    def pending(self, mark: int) -> int:
        """Return how many sends numbered up to ``mark`` are still under way."""
        return sum(1 for n in self._open if n <= mark)

    async def drained(self, mark: int) -> None:
        """Return once every send numbered up to ``mark`` has ended (sent and answered, or failed).

        Each send is bounded by the client's timeouts, so this wait is too.
        """
        while self.pending(mark):
            await asyncio.sleep(POLL_S)
