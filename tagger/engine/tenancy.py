"""What a cycle needs from a cluster: which accounts this node holds, and each one's lease.

The engine knows only these protocols; :mod:`tagger.cluster.seat` implements
them over PostgreSQL. Without a cluster (SQLite, one writer by its lock) the
runtime has no tenancy and nothing here is called.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import AbstractContextManager
from typing import Protocol

from tagger.mimecast.clearance import Clearance
from tagger.state.fence import Fence

__all__ = ["READ_BACK_HASH", "AccountLease", "Claim", "TagSearch", "Tenancy"]

# The rule hash recorded for a pair found tagged by reading back a claim in doubt.
READ_BACK_HASH = "read-back"


class Claim(Protocol):
    """A claimed (message, tag) pair, with the rule that claimed it."""

    @property
    def message_id(self) -> str: ...

    @property
    def tag_id(self) -> str: ...

    @property
    def rule_id(self) -> str: ...


class TagSearch(Protocol):
    """The part of the Mimecast client that reads back a tag."""

    def search_smart_tag(self, tag_id: str) -> AsyncIterator[str]:
        """Yield the id of every message carrying Smart Tag ``tag_id``."""


class AccountLease(Protocol):
    """This node's lease of one account, for one cycle."""

    @property
    def fence(self) -> Fence:
        """The check every ledger write of the account's cycle passes first."""

    def using(self) -> AbstractContextManager[None]:
        """Mark the account busy for the body (it is not handed back meanwhile)."""

    async def withdraw(self, message_id: str, tag_id: str) -> None:
        """Delete this node's claim of a pair whose apply was not sent or failed for sure."""

    def clearance(
        self, inner: Clearance | None, pair: tuple[str, str, str] | None = None
    ) -> Clearance:
        """Wrap ``inner``: at the moment of sending, check the lease and claim ``pair``.

        ``pair`` is (message, tag, rule). The send is refused (Withheld) once
        the lease may have run out, or when the pair is another owner's or in
        doubt; LeaseLost when the lease is lost.
        """

    async def resolve(self, client: TagSearch, record: Callable[[Sequence[Claim]], None]) -> object:
        """Read back the claims in doubt on the account; ``record`` those found tagged."""


class Tenancy(Protocol):
    """The accounts this node holds."""

    def lease(self, account: str) -> AccountLease | None:
        """Return this node's lease of ``account`` if a cycle may run on it now, else None."""

    def serve(self, accounts: Sequence[str]) -> None:
        """Serve ``accounts`` from now on (a reload changed them)."""
