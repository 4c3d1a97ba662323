"""The fencing hook: a PostgreSQL write transaction first proves the node still holds its lease.

The cluster (per-account leases with an epoch) sets :data:`FENCE` for the
task working on an account; contextvars follow asyncio tasks and
``asyncio.to_thread``, so every ledger write that task makes sees it. Every
PostgreSQL write transaction calls :meth:`Fence.check` as its first
statement when a fence is set (:mod:`tagger.state.pgdb`). ``check`` runs its
query through the ``execute`` it is given (psycopg ``%s`` marks, rows
returned) inside that transaction, and raises
:class:`~tagger.state.errors.LeaseLost` when the lease is gone: the whole
transaction is rolled back and the error reaches the caller unchanged.

A SQLite ledger ignores the fence: it belongs to one process (its file lock)
and has no leases.
"""

from __future__ import annotations

import contextvars
from collections.abc import Callable, Sequence
from typing import Any, Protocol

from tagger.state.errors import LeaseLost

__all__ = ["FENCE", "Execute", "Fence", "LeaseLost"]

# Runs one statement (psycopg marks) in the fenced transaction; returns its rows.
Execute = Callable[[str, Sequence[object]], list[tuple[Any, ...]]]


class Fence(Protocol):
    """Proves, inside a write transaction, that the writer may still write."""

    def check(self, execute: Execute) -> None:
        """Run the check through ``execute``; raise LeaseLost when the lease is lost."""
        ...


FENCE: contextvars.ContextVar[Fence | None] = contextvars.ContextVar("tagger_fence", default=None)
