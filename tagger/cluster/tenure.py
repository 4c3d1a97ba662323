"""What this node holds right now, and the fence every write and send passes.

:class:`Tenure` is the node's record of its account leases, shared by the
thread that renews them (:mod:`tagger.cluster.node`) and the cycles that use
them. A :class:`Holding` is valid until a deadline on the monotonic clock
set from the last renewal *sent* (so time spent stopped or cut off counts
against it) a safety margin before the lease can expire in the ledger: a
node that cannot renew stops sending for the account before any other node
can take it (self-fence). :class:`LeaseFence` is the database side: every
ledger write for the account first checks, in its own transaction, that this
owner still holds the lease at its epoch (and holds the lease row FOR SHARE
until it commits, so a takeover waits for it, never longer than the
self-fence margin: see :data:`IDLE_LIMIT`); a write that finds the lease
lost raises LeaseLost and the account is dropped at once.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import structlog

from tagger.cluster.dbtime import NOW_US
from tagger.state.errors import LeaseLost

__all__ = ["IDLE_LIMIT", "Holding", "LeaseFence", "Tenure", "idle_limit"]

log = structlog.get_logger("tagger.cluster")

# The first statement of a fenced transaction: PostgreSQL ends the session if
# the transaction then sits idle longer than the limit (a node stopped or cut
# off mid-write), which rolls it back and frees the lease row it holds FOR
# SHARE: a takeover never waits on a writer that cannot finish. The limit is
# the self-fence margin (``renew``), shorter than ``lease - renew``, the
# earliest a stalled node's lease can expire, so the row is free by then.
IDLE_LIMIT = "SELECT set_config('idle_in_transaction_session_timeout', %s, true)"


def idle_limit(seconds: float) -> str:
    """Return ``seconds`` as an ``idle_in_transaction_session_timeout`` value (ms, at least 100)."""
    return f"{max(100, round(seconds * 1000))}ms"


@dataclass(slots=True)
class Holding:
    """One account this node holds: at ``epoch``, sendable until ``deadline`` (monotonic)."""

    account: str
    owner: str
    epoch: int
    deadline: float
    releasing: bool = False
    busy: int = 0
    taken_mono: float = field(default_factory=time.monotonic)

    def valid(self, margin_s: float = 0.0) -> bool:
        """Return True while this node may still send for the account (``margin_s`` to spare)."""
        return time.monotonic() + margin_s < self.deadline


class Tenure:
    """The leases this node holds (see module docstring); safe to use from any thread."""

    def __init__(self, owner: str, node: str, lease_s: float, margin_s: float) -> None:
        self.owner = owner
        self.node = node
        self.lease_s = lease_s
        self.margin_s = margin_s
        self._lock = threading.Lock()
        self._held: dict[str, Holding] = {}
        self.lost: list[tuple[str, str]] = []
        self.changed = threading.Event()

    def holding(self, account: str) -> Holding | None:
        """Return ``account``'s holding if a cycle may run on it now (held, valid, kept)."""
        with self._lock:
            held = self._held.get(account)
        if held is None or held.releasing or not held.valid():
            return None
        return held

    def held(self) -> dict[str, int]:
        """Return every held account with its epoch."""
        with self._lock:
            return {a: h.epoch for a, h in self._held.items()}

    def holdings(self) -> list[Holding]:
        """Return a copy of every holding, in account order."""
        with self._lock:
            return [
                Holding(h.account, h.owner, h.epoch, h.deadline, h.releasing, h.busy, h.taken_mono)
                for _, h in sorted(self._held.items())
            ]

    def took(self, account: str, epoch: int, sent_mono: float) -> None:
        """Note that ``account`` was taken at ``epoch`` by a request sent at ``sent_mono``."""
        with self._lock:
            self._held[account] = Holding(account, self.owner, epoch, self._deadline(sent_mono))
        self.changed.set()

    def renewed(self, accounts: set[str], sent_mono: float) -> list[str]:
        """Extend the deadline of the renewed ``accounts``; drop the others; returns those lost."""
        lost: list[str] = []
        with self._lock:
            for account, held in list(self._held.items()):
                if account in accounts:
                    held.deadline = self._deadline(sent_mono)
                else:
                    lost.append(account)
                    held.deadline = 0.0
                    del self._held[account]
        for account in lost:
            self._note_lost(account, "its lease was taken over or released")
        return lost

    def drop(self, account: str, why: str) -> None:
        """Forget ``account`` at once (a fenced write found its lease lost)."""
        with self._lock:
            gone = self._held.pop(account, None)
            if gone is not None:
                gone.deadline = 0.0
        if gone is not None:
            self._note_lost(account, why)

    def mark_releasing(self, account: str) -> None:
        """Start no new cycle on ``account``: it is handed back once idle."""
        with self._lock:
            held = self._held.get(account)
            if held is not None:
                held.releasing = True

    def idle_releasing(self) -> list[tuple[str, int]]:
        """Remove and return the (account, epoch) being handed back that no cycle is using."""
        with self._lock:
            done = [(a, h.epoch) for a, h in self._held.items() if h.releasing and h.busy == 0]
            for account, _ in done:
                del self._held[account]
        return done

    @contextlib.contextmanager
    def using(self, account: str) -> Iterator[None]:
        """Mark ``account`` busy (a cycle runs on it) for the body's duration."""
        with self._lock:
            held = self._held.get(account)
            if held is not None:
                held.busy += 1
        try:
            yield
        finally:
            with self._lock:
                held = self._held.get(account)
                if held is not None:
                    held.busy = max(0, held.busy - 1)

    def clear(self) -> list[tuple[str, int]]:
        """Forget every holding; returns the (account, epoch) pairs to hand back."""
        with self._lock:
            gone = [(a, h.epoch) for a, h in self._held.items()]
            for held in self._held.values():
                held.deadline = 0.0
            self._held.clear()
        return gone

    def _deadline(self, sent_mono: float) -> float:
        """Return the monotonic moment to stop sending for a lease renewed at ``sent_mono``."""
        return sent_mono + self.lease_s - self.margin_s

    def _note_lost(self, account: str, why: str) -> None:
        """Log and keep the loss of ``account`` (for status and metrics)."""
        self.lost.append((account, why))
        log.warning("lease_lost", account=account, node=self.node, why=why)
        self.changed.set()


class LeaseFence:
    """The check every ledger write for ``account`` runs first (see module docstring)."""

    def __init__(self, tenure: Tenure, account: str, epoch: int) -> None:
        self.tenure = tenure
        self.account = account
        self.epoch = epoch

    def check(self, execute: Callable[[str, Sequence[object]], list[tuple[Any, ...]]]) -> None:
        """Raise LeaseLost (and drop the account) unless the lease is still ours at our epoch."""
        execute(IDLE_LIMIT, [idle_limit(self.tenure.margin_s)])
        rows = execute(
            "SELECT 1 FROM leases WHERE account = %s AND owner = %s AND epoch = %s"
            f" AND expires_at > {NOW_US} FOR SHARE",
            [self.account, self.tenure.owner, self.epoch],
        )
        if not rows:
            why = (
                f"this node no longer holds the lease of account {self.account!r}"
                f" at epoch {self.epoch}"
            )
            self.tenure.drop(self.account, why)
            raise LeaseLost(why)
