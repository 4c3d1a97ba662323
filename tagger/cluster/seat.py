"""This node's seat in the cluster, as the engine sees it (:mod:`tagger.engine.tenancy`).

:class:`Seat` runs the node (:class:`~tagger.cluster.node.ClusterNode`) and
answers the engine: which accounts a cycle may run on, and for each a
:class:`SeatLease` that fences the account's ledger writes, claims pairs
before they are applied, refuses a send once the lease may have run out, and
reads back the claims an earlier owner left in doubt.

Database calls from the cycle's event loop run in threads, each bounded: a
call that gets no answer within two ``renew`` periods (a cut network) has its
connection's socket shut, so the cycle fails the call instead of hanging.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager
from typing import Any, TypeVar

import structlog

from tagger.cluster import claims
from tagger.cluster.claims import Claim
from tagger.cluster.node import ClusterNode
from tagger.cluster.readback import ReadBack, TagSearch, read_back
from tagger.cluster.tenure import Holding, LeaseFence
from tagger.cluster.view import ClusterView, read_view
from tagger.mimecast.clearance import Clearance, Withheld
from tagger.state.errors import StateError
from tagger.state.pgcut import bounded, shut_socket

__all__ = ["Seat", "SeatLease"]

log = structlog.get_logger("tagger.cluster")

T = TypeVar("T")


class Seat:
    """This node in the cluster (see module docstring)."""

    def __init__(self, node: ClusterNode, pool: Any) -> None:
        self.node = node
        self.pool = pool  # a psycopg_pool.ConnectionPool of autocommit connections

    @property
    def call_timeout_s(self) -> float:
        """How long one database call from a cycle may go unanswered."""
        return self.node.renew_s * 2

    def lease(self, account: str) -> SeatLease | None:
        """Return this node's lease of ``account`` if a cycle may run on it now, else None."""
        held = self.node.tenure.holding(account)
        return None if held is None else SeatLease(self, held)

    def serve(self, accounts: Sequence[str]) -> None:
        """Serve ``accounts`` from the next round on (see :meth:`ClusterNode.serve`)."""
        self.node.serve(accounts)

    def held_accounts(self) -> list[str]:
        """Return the accounts this node holds, in name order."""
        return sorted(self.node.tenure.held())

    async def call(self, work: Callable[[Any], T]) -> T:
        """Run ``work(conn)`` in a thread on a pooled connection, bounded (see module docstring)."""
        using: list[Any] = []

        def run() -> T:
            with self.pool.connection(timeout=self.call_timeout_s) as conn:
                using.append(conn)
                return work(conn)

        task = asyncio.ensure_future(asyncio.to_thread(run))
        try:
            return await asyncio.wait_for(asyncio.shield(task), self.call_timeout_s)
        except TimeoutError:
            for conn in using:
                shut_socket(conn)
            with contextlib.suppress(Exception):
                await asyncio.wait_for(task, self.call_timeout_s)
            raise StateError(
                f"PostgreSQL did not answer within {self.call_timeout_s:g} s"
            ) from None
        except StateError:
            raise
        except Exception as exc:
            first = str(exc).strip().splitlines()
            raise StateError(f"PostgreSQL: {first[0] if first else type(exc).__name__}") from exc

    async def view(self) -> ClusterView:
        """Return the cluster as the ledger has it now (for the metrics)."""
        node = self.node
        grace = node.lease_s + 2 * node.renew_s
        return await self.call(lambda conn: read_view(conn, node.lease_s, grace))

    def call_now(self, work: Callable[[Any], T]) -> T:
        """Run ``work(conn)`` here, on a pooled connection, bounded like :meth:`call`.

        For the one database call made at the moment of sending (a claim):
        a short transaction, run where the send waits for it.
        """
        try:
            with (
                self.pool.connection(timeout=self.call_timeout_s) as conn,
                bounded(conn, self.call_timeout_s),
            ):
                return work(conn)
        except StateError:
            raise
        except Exception as exc:
            first = str(exc).strip().splitlines()
            raise StateError(f"PostgreSQL: {first[0] if first else type(exc).__name__}") from exc

    def close(self) -> None:
        """Close the pool."""
        with contextlib.suppress(Exception):
            self.pool.close()


class SeatLease:
    """This node's lease of one account, for one cycle (see :class:`tagger.engine.tenancy`)."""

    def __init__(self, seat: Seat, held: Holding) -> None:
        self.seat = seat
        self.held = held
        self.account = held.account
        self.fence = LeaseFence(seat.node.tenure, held.account, held.epoch)

    def using(self) -> AbstractContextManager[None]:
        """Mark the account busy for the body (it is not handed back meanwhile)."""
        return self.seat.node.tenure.using(self.account)

    async def withdraw(self, message_id: str, tag_id: str) -> None:
        """Delete this node's claim of a pair not sent or failed for sure (best effort)."""
        owner, epoch = self.held.owner, self.held.epoch
        try:
            await self.seat.call(
                lambda conn: claims.withdraw(conn, self.account, message_id, tag_id, owner, epoch)
            )
        except StateError as exc:
            log.warning("claim_withdraw_failed", account=self.account, error=str(exc))

    def clearance(
        self, inner: Clearance | None, pair: tuple[str, str, str] | None = None
    ) -> Clearance:
        """Wrap ``inner``: at the moment of sending, check the lease and claim ``pair``.

        Entered right before the request goes out, after every wait (the
        quota's turn, a connection slot): the send is refused (Withheld)
        once the lease may have run out, then the (message, tag, rule)
        ``pair`` is claimed in a fenced transaction, so a claim exists only
        for an apply about to be sent, never for one still queued (a node
        killed with a queue leaves no claim in doubt for it). A pair another
        owner claimed, or left in doubt, is refused (Withheld); a lost lease
        raises LeaseLost. ``inner`` (the rails, the audit record) comes last.
        """

        @contextlib.contextmanager
        def cleared() -> Iterator[None]:
            if not self.held.valid():
                raise Withheld(
                    f"this node's lease of account {self.account!r} may have run out "
                    "(it could not renew it in time); another node takes the account over",
                    rail=False,
                )
            if pair is not None and not self.claim_now(*pair):
                raise Withheld(claims.IN_DOUBT, rail=False)
            if inner is None:
                yield
            else:
                with inner():
                    yield

        return cleared

    def claim_now(self, message_id: str, tag_id: str, rule_id: str) -> bool:
        """Claim a pair at once, from the sending thread (see :meth:`clearance`); bounded."""
        owner, epoch = self.held.owner, self.held.epoch
        idle_s = self.seat.node.tenure.margin_s
        answer = self.seat.call_now(
            lambda conn: claims.claim(
                conn, self.account, message_id, tag_id, rule_id, owner, epoch, idle_s
            )
        )
        if answer != "mine":
            log.warning(
                "claim_refused",
                account=self.account,
                message_id=message_id,
                tag_id=tag_id,
                why="claimed by another owner or in doubt",
            )
        return answer == "mine"

    async def resolve(
        self, client: TagSearch, record: Callable[[Sequence[Claim]], None]
    ) -> ReadBack:
        """Read back the claims in doubt on this account; ``record`` those found tagged."""
        doubts = await self.seat.call(lambda conn: claims.in_doubt(conn, self.account))
        if not doubts:
            return ReadBack((), ())
        found = await read_back(doubts, client, record)
        if found.tagged:
            pairs = [(c.message_id, c.tag_id) for c in found.tagged]
            await self.seat.call(lambda conn: claims.forget(conn, self.account, pairs))
        return found
