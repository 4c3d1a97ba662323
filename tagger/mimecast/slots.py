"""An account's connection slots, handed out by priority: work that finishes first.

A call holds one of the account's ``concurrency`` slots while it is on the
wire. When calls queue for a slot, those of a higher priority go first (the
same priority in the order they asked): the applies of a message whose info
was already read get their slots before the next info reads, so the quota
spent reading a message turns into its tags instead of waiting behind the
reads of messages not judged yet.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

__all__ = ["FIRST", "NEXT", "Slots"]

FIRST = 0  # finishes work already paid for (an apply)
NEXT = 1  # starts new work (a read, a search)


class Slots:
    """``size`` slots; a waiting call of a lower ``priority`` number is served first."""

    def __init__(self, size: int) -> None:
        if size < 1:
            raise ValueError("slots: size must be at least 1")
        self.size = size
        self._free = size
        self._queue: list[tuple[int, int, asyncio.Future[None]]] = []
        self._order = itertools.count()

    @property
    def waiting(self) -> int:
        """Return how many calls wait for a slot."""
        return sum(1 for _p, _n, fut in self._queue if not fut.done())

    @asynccontextmanager
    async def hold(self, priority: int = NEXT) -> AsyncIterator[None]:
        """Hold a slot for the block (waiting for one, by ``priority``)."""
        await self._acquire(priority)
        try:
            yield
        finally:
            self._release()

    async def _acquire(self, priority: int) -> None:
        if self._free > 0 and not self.waiting:
            self._free -= 1
            return
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._queue, (priority, next(self._order), fut))
        try:
            await fut
        except asyncio.CancelledError:
            if fut.done() and not fut.cancelled():
                self._release()  # handed a slot just as it was cancelled: pass it on
            raise

    def _release(self) -> None:
        while self._queue:
            _priority, _n, fut = heapq.heappop(self._queue)
            if not fut.done():
                fut.set_result(None)  # the slot goes straight to the waiter
                return
        self._free += 1
