"""Counters of what the simulator was asked and answered (served at ``/_sim/stats``)."""

from __future__ import annotations

import threading
from typing import Any

from tagger.simulator.config import ENDPOINTS
from tagger.simulator.faults import KINDS


class Stats:
    """Thread-safe counters; :meth:`snapshot` returns a JSON-ready copy."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        """Zero every counter."""
        with self._lock:
            self._calls: dict[str, dict[int, int]] = {e: {} for e in ENDPOINTS}
            self._throttled: dict[str, int] = dict.fromkeys(ENDPOINTS, 0)
            self._faults: dict[str, int] = dict.fromkeys(KINDS, 0)
            self._auth_failures: dict[str, int] = {}
            self._applies: dict[tuple[str, str], int] = {}
            self._tokens = 0
            self._unrouted = 0

    def call(self, endpoint: str, status: int) -> None:
        """Count one answered (or dropped: status 0) call to an endpoint."""
        with self._lock:
            by_status = self._calls.setdefault(endpoint, {})
            by_status[status] = by_status.get(status, 0) + 1
            if status == 429:
                self._throttled[endpoint] = self._throttled.get(endpoint, 0) + 1

    def unrouted(self) -> None:
        """Count a request to an unknown path."""
        with self._lock:
            self._unrouted += 1

    def fault(self, kind: str) -> None:
        """Count one injected fault."""
        with self._lock:
            self._faults[kind] = self._faults.get(kind, 0) + 1

    def auth_failure(self, code: str) -> None:
        """Count one refused request by error code."""
        with self._lock:
            self._auth_failures[code] = self._auth_failures.get(code, 0) + 1

    def token_issued(self) -> None:
        """Count one issued OAuth token."""
        with self._lock:
            self._tokens += 1

    def applied(self, message_id: str, tag_id: str) -> None:
        """Count one successful apply call (idempotent repeats included)."""
        with self._lock:
            key = (message_id, tag_id)
            self._applies[key] = self._applies.get(key, 0) + 1

    def snapshot(self) -> dict[str, Any]:
        """Return every counter as plain JSON-compatible data."""
        with self._lock:
            endpoints = {
                e: {
                    "total": sum(s.values()),
                    "by_status": {str(k): n for k, n in sorted(s.items())},
                }
                for e, s in self._calls.items()
            }
            calls = sum(self._applies.values())
            return {
                "endpoints": endpoints,
                "requests": sum(e["total"] for e in endpoints.values()),
                "throttled": dict(self._throttled),
                "throttled_total": sum(self._throttled.values()),
                "faults": dict(self._faults),
                "auth_failures": dict(self._auth_failures),
                "tokens_issued": self._tokens,
                "unrouted": self._unrouted,
                "applies": {
                    "calls": calls,
                    "distinct": len(self._applies),
                    "repeats": calls - len(self._applies),
                },
                "applied": [
                    {"id": m, "smartTagId": t, "count": n} for (m, t), n in self._applies.items()
                ],
            }
