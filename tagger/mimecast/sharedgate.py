"""Rate-limit gates shared by the accounts of one quota, their calls taking turns in rotation.

Accounts that spend one quota (same :func:`~tagger.mimecast.quota.quota_key`)
pace their calls at one :class:`~tagger.mimecast.ratelimit.RateLimitGate` per
endpoint, kept in a :class:`GateRegistry` (one per runtime). The gate hands
out send times first come, first served; an account that queues a chunk of
calls first would take every turn until its chunk is done. So in a group of
two accounts or more, each account may hold only :data:`PER_ACCOUNT` calls at
the gate (asking for a turn or waiting to be sent); its other calls wait in
the account's own FIFO queue and enter as its held ones are sent. The gate's
order then alternates between the accounts that have calls waiting: each
gets an equal share of the turns, and an account alone in its group (or with
idle partners) gets all of them.

A registry may also carry the quota shared with other processes
(:class:`~tagger.mimecast.crossnode.CrossNodeQuota`, None for one process):
every exchange made through it then takes its turn there as well.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Callable

from tagger.mimecast.crossnode import CrossNodeQuota
from tagger.mimecast.ratelimit import OutOfTime, RateLimitGate

__all__ = ["PER_ACCOUNT", "GateRegistry", "Hold", "Member", "SharedGate"]

# Calls one account may hold at a shared gate while others of its group queue behind it.
PER_ACCOUNT = 1


class Hold:
    """A call's place at a shared gate (or none); :meth:`release` it once the call is sent."""

    __slots__ = ("_owner", "_shared")

    def __init__(self, shared: SharedGate | None = None, owner: object = None) -> None:
        self._shared = shared
        self._owner = owner

    def release(self) -> None:
        """Let the account's next queued call ask for a turn (idempotent)."""
        shared, self._shared = self._shared, None
        if shared is not None:
            shared.leave(self._owner)


NO_HOLD = Hold()


class SharedGate:
    """One endpoint's gate of a quota group, and the queue of each of its accounts.

    Given the gate, the monotonic ``clock`` and ``members``, which returns
    how many accounts the group has (with one, calls go straight to the gate).
    """

    def __init__(
        self, gate: RateLimitGate, clock: Callable[[], float], members: Callable[[], int]
    ) -> None:
        self.gate = gate
        self._clock = clock
        self._members = members
        self._holding: dict[object, int] = {}
        self._queues: dict[object, deque[asyncio.Future[None]]] = {}

    def queued(self, owner: object) -> int:
        """Return how many calls of ``owner`` wait in its queue (not yet at the gate)."""
        return len(self._queues.get(owner, ()))

    async def enter(self, owner: object, deadline: float) -> Hold:
        """Wait until a call of ``owner`` may ask the gate for a turn; returns its hold.

        Raises :class:`OutOfTime` at once when the turns the queues ahead of it
        would take bring its own after ``deadline`` (monotonic).
        """
        if self._members() < 2:
            return NO_HOLD
        queue = self._queues.setdefault(owner, deque())
        if self._holding.get(owner, 0) < PER_ACCOUNT and not queue:
            self._holding[owner] = self._holding.get(owner, 0) + 1
            return Hold(self, owner)
        now = self._clock()
        slot = self.gate.slot_after(now, self._turns_before(owner))
        if slot > deadline:
            raise OutOfTime(slot - now)
        granted = asyncio.get_running_loop().create_future()
        queue.append(granted)
        try:
            await granted
        except BaseException:
            if granted.done() and not granted.cancelled():
                self.leave(owner)  # the turn came as the call was cancelled: pass it on
            elif granted in queue:
                queue.remove(granted)
            raise
        return Hold(self, owner)

    def _turns_before(self, owner: object) -> int:
        """Return how many calls enter the gate before the next one ``owner`` queues (rotation)."""
        ahead = self.queued(owner)
        others = sum(min(len(q), ahead) for o, q in self._queues.items() if o is not owner)
        return ahead + others

    def leave(self, owner: object) -> None:
        """Hand ``owner``'s place at the gate to its next queued call, if any."""
        queue = self._queues.get(owner)
        while queue:
            granted = queue.popleft()
            if not granted.done():
                granted.set_result(None)
                return
        self._holding[owner] = max(self._holding.get(owner, 0) - 1, 0)


class Member:
    """One account's place in a quota group of a :class:`GateRegistry`."""

    def __init__(self, registry: GateRegistry, key: str) -> None:
        self._registry = registry
        self.key = key

    def shared(
        self, path: str, clock: Callable[[], float], make: Callable[[], RateLimitGate]
    ) -> SharedGate:
        """Return the group's gate of ``path``, made by ``make`` for its first account."""
        return self._registry.shared(self.key, path, clock, make)


class GateRegistry:
    """The rate-limit gates of one runtime: one per (quota key, endpoint path).

    A gate is made by the first account of its group that calls the
    endpoint (its clock, sleep and ``max_wait_s``); the keys are opaque
    (:func:`~tagger.mimecast.quota.quota_key`). ``cross`` is the quota
    shared with other processes (None: this process alone spends it).
    """

    def __init__(self, cross: CrossNodeQuota | None = None) -> None:
        self.cross = cross
        self._members: dict[str, int] = {}
        self._gates: dict[tuple[str, str], SharedGate] = {}

    def join(self, key: str) -> Member:
        """Add one account to the group ``key``; returns its membership."""
        self._members[key] = self._members.get(key, 0) + 1
        return Member(self, key)

    def members(self, key: str) -> int:
        """Return how many accounts joined the group ``key``."""
        return self._members.get(key, 0)

    def shared(
        self, key: str, path: str, clock: Callable[[], float], make: Callable[[], RateLimitGate]
    ) -> SharedGate:
        """Return the gate of group ``key`` for ``path`` (made by ``make`` when new)."""
        found = self._gates.get((key, path))
        if found is None:
            found = SharedGate(make(), clock, lambda: self.members(key))
            self._gates[key, path] = found
        return found
