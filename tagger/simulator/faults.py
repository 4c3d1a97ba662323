"""Seeded fault injection and simulated latency.

Draws come from seeded RNGs in request order, so with concurrent clients the
faults land on different requests from run to run, but their rates are those
configured.
"""

from __future__ import annotations

import random
import threading

from tagger.simulator.config import FaultConfig

ERROR_5XX = "error_5xx"
DROP = "drop"
MALFORMED = "malformed_json"
SLOW = "slow"
KINDS = (ERROR_5XX, DROP, MALFORMED, SLOW)


class FaultInjector:
    """Decides, per request, whether and how it fails; thread-safe."""

    def __init__(self, config: FaultConfig) -> None:
        self._lock = threading.Lock()
        self.config = config
        self._rng = random.Random(config.seed)

    def set(self, config: FaultConfig) -> None:
        """Replace the fault configuration (the RNG restarts from its seed)."""
        with self._lock:
            self.config = config
            self._rng = random.Random(config.seed)

    def draw(self, is_token: bool) -> tuple[str | None, int]:
        """Return ``(fault kind or None, HTTP status for a 5xx)`` for one request."""
        c = self.config
        if is_token and not c.include_token:
            return None, 0
        with self._lock:
            r = self._rng.random()
            status = 503 if self._rng.random() < 0.5 else 500
        for kind, share in (
            (ERROR_5XX, c.error_5xx),
            (DROP, c.drop),
            (MALFORMED, c.malformed_json),
            (SLOW, c.slow),
        ):
            if r < share:
                return kind, status
            r -= share
        return None, 0


class Latency:
    """Fixed latency plus uniform jitter, in seconds; thread-safe."""

    def __init__(self, fixed_ms: float, jitter_ms: float, seed: int) -> None:
        self._fixed = fixed_ms / 1000.0
        self._jitter = jitter_ms / 1000.0
        self._lock = threading.Lock()
        self._rng = random.Random(f"tagger-sim:{seed}:latency")

    def next(self) -> float:
        """Return how long the next request should take, in seconds."""
        if self._jitter <= 0:
            return self._fixed
        with self._lock:
            return self._fixed + self._rng.uniform(0.0, self._jitter)
