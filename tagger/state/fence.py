"""The fence a ledger write passes first, set per account task (a cluster's lease check).

:data:`FENCE` is a context variable: the engine sets it for the task running
one account's cycle (context variables follow asyncio tasks and
``asyncio.to_thread``), and the PostgreSQL store calls its :meth:`Fence.check`
as the first statement of every write transaction, with a function that runs
SQL in that transaction. A fence that raises (LeaseLost) rolls the whole
transaction back. SQLite has one writer by its lock and never calls it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from contextvars import ContextVar
from typing import Any, Protocol

__all__ = ["FENCE", "Execute", "Fence"]

# Runs one statement (``%s`` marks) in the write transaction; returns its rows.
Execute = Callable[[str, Sequence[object]], list[tuple[Any, ...]]]


class Fence(Protocol):
    """A check that raises when the write must not happen (see module docstring)."""

    def check(self, execute: Execute) -> None:
        """Raise (rolling the transaction back) when this writer may no longer write."""


FENCE: ContextVar[Fence | None] = ContextVar("tagger_fence", default=None)
