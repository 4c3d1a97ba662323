"""The one doubling-backoff formula every retrying part of tagger shares.

Retries of an API call, the rate-limit gate's waits after a 429 that names
none, and the daemon's pauses after crashed cycles all wait "a base, doubled
each time, up to a cap". :func:`doubling_delay` is that formula, pure; each
caller keeps its own numbers. It lives at the bottom of the Mimecast client
(it imports nothing from tagger) so that the service layer may import it too.
"""

from __future__ import annotations

import math

# 2.0 ** 1024 overflows a float; any cap anyone uses is reached long before.
MAX_DOUBLINGS = 1023


def doubling_delay(
    base: float, doublings: int, cap: float = math.inf, jitter: float = 1.0
) -> float:
    """Return ``min(cap, base * 2 ** doublings) * jitter``.

    Given the first delay ``base`` (seconds, or any unit), how many times to
    double it (negative counts as 0; past :data:`MAX_DOUBLINGS` it stops
    growing rather than overflow), the ``cap`` (none by default) and a
    ``jitter`` factor (1.0: none; a sample in [0, 1) gives "full jitter").
    Pure; never raises for finite inputs.
    """
    steps = min(max(doublings, 0), MAX_DOUBLINGS)
    return min(cap, base * 2.0**steps) * jitter
