"""Counters of what the client did, per endpoint (for logs, tests and benchmarks)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any


@dataclass(slots=True)
class EndpointStats:
    """Counters of one endpoint.

    ``calls`` are logical calls (one per client method invocation or page),
    ``requests`` HTTP attempts, ``retries`` attempts after the first,
    ``throttled`` 429 answers, ``gate_waits`` pauses taken because the
    service said no capacity remained, ``deferred`` calls whose turn came
    after the cycle's bound (never sent), ``skipped_items`` response items
    dropped for lack of an id, ``errors`` raised errors by class name.
    """

    calls: int = 0
    requests: int = 0
    retries: int = 0
    throttled: int = 0
    gate_waits: int = 0
    deferred: int = 0
    token_refreshes: int = 0
    skipped_items: int = 0
    failed: int = 0
    errors: Counter[str] = field(default_factory=Counter)

    def as_dict(self) -> dict[str, Any]:
        """Return the counters as plain JSON-compatible values."""
        return {
            "calls": self.calls,
            "requests": self.requests,
            "retries": self.retries,
            "throttled": self.throttled,
            "gate_waits": self.gate_waits,
            "token_refreshes": self.token_refreshes,
            "skipped_items": self.skipped_items,
            "failed": self.failed,
            "errors": dict(self.errors),
        }


@dataclass(frozen=True, slots=True)
class EndpointQuota:
    """One endpoint's use of its quota so far.

    ``answered``: responses other than 429 (each spent one call of the quota);
    ``throttled``: 429s; ``refill_per_s``: the refill its rate-limit gate
    paces to, read from the headers or observed (None: not known, e.g. an
    endpoint that never said it is limited).
    """

    endpoint: str
    answered: int
    throttled: int
    refill_per_s: float | None


@dataclass(slots=True)
class ClientStats:
    """Per-endpoint counters plus the number of OAuth tokens obtained."""

    endpoints: dict[str, EndpointStats] = field(default_factory=dict)
    tokens_issued: int = 0

    def endpoint(self, path: str) -> EndpointStats:
        """Return (creating if needed) the counters of ``path``."""
        stats = self.endpoints.get(path)
        if stats is None:
            stats = self.endpoints[path] = EndpointStats()
        return stats

    def total(self, counter: str) -> int:
        """Return the sum of one integer counter over every endpoint."""
        return sum(int(getattr(s, counter)) for s in self.endpoints.values())

    def errors(self) -> Counter[str]:
        """Return raised errors by class name over every endpoint."""
        out: Counter[str] = Counter()
        for s in self.endpoints.values():
            out.update(s.errors)
        return out

    def as_dict(self) -> dict[str, Any]:
        """Return every counter as plain JSON-compatible values."""
        return {
            "tokens_issued": self.tokens_issued,
            "endpoints": {k: v.as_dict() for k, v in sorted(self.endpoints.items())},
        }
