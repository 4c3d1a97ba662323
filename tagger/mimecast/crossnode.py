"""A quota spent by several processes: the port the exchange takes a shared turn through.

Several tagger processes (nodes, possibly on other hosts) that call with the
same credentials spend one Mimecast quota per endpoint. Their in-process
gates (:mod:`tagger.mimecast.ratelimit`) pace each node to the service's
refill, which is right for one node and N times too fast for N. A
:class:`CrossNodeQuota` is the budget they share: before an exchange sends a
call it waits for the call's turn there (:meth:`~CrossNodeQuota.turn`), and
after every response it reports what its gate has learned of the endpoint's
refill, or the wait a 429 asked for (:meth:`~CrossNodeQuota.learned`).

The implementation lives above this package (the cluster's, kept in the
database); with none configured the exchange does exactly what it does for
one process. ``bucket`` is :func:`~tagger.mimecast.quota.quota_fingerprint`:
stable across processes, never a secret.
"""

from __future__ import annotations

from typing import Protocol

from tagger.mimecast.ratelimit import RateLimitGate, RateLimitInfo

__all__ = ["CrossNodeQuota"]


class CrossNodeQuota(Protocol):
    """A per-endpoint budget shared with other processes (see the module docstring)."""

    async def turn(self, bucket: str, endpoint: str, max_wait_s: float) -> None:
        """Wait for one call's turn at ``endpoint`` of the quota ``bucket``.

        ``max_wait_s`` is how long the call may wait (infinity: no bound).
        Raises :class:`~tagger.mimecast.ratelimit.OutOfTime` at once, taking
        nothing, when its turn would come later than that.
        """
        ...

    def learned(
        self,
        bucket: str,
        endpoint: str,
        gate: RateLimitGate,
        info: RateLimitInfo,
        throttled: bool,
    ) -> None:
        """Report what one response taught the node's ``gate`` (already settled); never blocks.

        ``info`` holds the response's rate-limit headers; ``throttled`` says
        it was a 429 (the gate's :meth:`~RateLimitGate.delay` is then the wait
        it holds).
        """
        ...
