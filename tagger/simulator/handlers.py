"""The request pipeline: what happens to each HTTP request, in order.

Each API request goes through: the concurrency limit (excess requests
queue), simulated latency, the endpoint's rate limit (429, not executed),
authentication (401/418), fault injection (5xx or dropped connection: not
executed; malformed JSON: executed, answer truncated; slow: delayed), then
the endpoint itself. A body that is not JSON gets HTTP 400 with an envelope
whose ``fail[]`` error code is ``err_invalid_json``.

``GET /_sim/stats`` is a simulator-only endpoint (no authentication, no
faults, no rate limit) returning the counters.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from tagger.simulator.auth import Authenticator
from tagger.simulator.config import TOKEN, SimulatorConfig
from tagger.simulator.endpoints import Api
from tagger.simulator.faults import DROP, ERROR_5XX, MALFORMED, SLOW, FaultInjector, Latency
from tagger.simulator.ratelimit import RateDecision, RateLimiter
from tagger.simulator.stats import Stats
from tagger.simulator.transport import SimHandler


def _dumps(value: Any) -> bytes:
    return json.dumps(value, separators=(",", ":")).encode()


def _decode_json(body: bytes | None) -> tuple[bool, Any]:
    """Return ``(True, value)`` for a JSON (or empty) body, ``(False, None)`` otherwise."""
    if body is None:
        return False, None
    if not body.strip():
        return True, None
    try:
        return True, json.loads(body)
    except (ValueError, UnicodeDecodeError):
        return False, None


def _error_envelope(status: int, code: str, message: str, retryable: bool = False) -> bytes:
    error = {"code": code, "message": message, "retryable": retryable}
    # No request item to echo: the error also sits at the top of the item.
    item = {"code": code, "message": message, "errors": [error]}
    return _dumps({"meta": {"status": status}, "data": [], "fail": [item]})


class Pipeline:
    """Serves requests with the simulator's components; the server's ``dispatch``."""

    def __init__(
        self,
        config: SimulatorConfig,
        clock: Callable[[], float],
        api: Api,
        auth: Authenticator,
        limiter: RateLimiter,
        faults: FaultInjector,
        stats: Stats,
    ) -> None:
        self.config = config
        self.now = clock
        self._api = api
        self._auth = auth
        self._limiter = limiter
        self._faults = faults
        self._stats = stats
        self._latency = Latency(config.latency_ms, config.latency_jitter_ms, config.seed)
        self._routes = config.paths.by_path()
        slots = config.max_concurrency
        self._slots = threading.BoundedSemaphore(slots) if slots else None

    def dispatch(self, h: SimHandler, method: str) -> None:
        """Serve one request arriving on handler ``h``."""
        path = urlsplit(h.path).path
        body = h.read_body()
        if path == self.config.paths.stats:
            if method != "GET":
                h.respond(405, _error_envelope(405, "err_method_not_allowed", "use GET"))
                return
            h.respond(200, _dumps(self._stats.snapshot()))
            return
        endpoint = self._routes.get(path)
        if endpoint is None:
            self._stats.unrouted()
            h.respond(404, _error_envelope(404, "err_not_found", f"no endpoint at {path}"))
            return
        if method != "POST":
            self._stats.call(endpoint, 405)
            h.respond(405, _error_envelope(405, "err_method_not_allowed", "use POST"))
            return
        server = h.server
        if self._slots is not None:
            while not self._slots.acquire(timeout=0.1):
                if server.stopping.is_set():
                    h.drop()
                    return
        try:
            self._serve(h, endpoint, path, body, server.stopping)
        finally:
            if self._slots is not None:
                self._slots.release()

    def _serve(
        self, h: SimHandler, endpoint: str, path: str, body: bytes | None, stopping: threading.Event
    ) -> None:
        delay = self._latency.next()
        if delay > 0 and stopping.wait(delay):
            h.drop()
            return
        rate = self._limiter.take(endpoint)
        headers = rate.headers()
        if not rate.allowed:
            self._stats.call(endpoint, 429)
            h.respond(429, self._throttled_body(h, rate), headers=headers)
            return
        fault, status_5xx = self._faults.draw(endpoint == TOKEN)
        if endpoint == TOKEN:
            self._token(h, body, headers, (fault, status_5xx), stopping)
            return
        failure = self._auth.check(h.header, path, self.now())
        if failure is not None:
            self._stats.auth_failure(failure.code)
            self._stats.call(endpoint, failure.status)
            error = _error_envelope(failure.status, failure.code, failure.message)
            h.respond(failure.status, error, headers=headers)
            return
        if fault is not None and self._inject(h, endpoint, fault, status_5xx, headers, stopping):
            return
        ok, request = _decode_json(body)
        if not ok:
            self._stats.call(endpoint, 400)
            message = 'the request body must be JSON: {"data": [ ... ]}'
            h.respond(400, _error_envelope(400, "err_invalid_json", message), headers=headers)
            return
        status, payload = self._api.handle(endpoint, request, self.now())
        data = _dumps(payload)
        if fault == MALFORMED:
            data = data[: max(1, len(data) // 2)]
        self._stats.call(endpoint, status)
        h.respond(status, data, headers=headers)

    def _inject(
        self,
        h: SimHandler,
        endpoint: str,
        fault: str,
        status_5xx: int,
        headers: list[tuple[str, str]],
        stopping: threading.Event,
    ) -> bool:
        """Apply a drawn fault; returns True when the request is finished."""
        self._stats.fault(fault)
        if fault == DROP:
            self._stats.call(endpoint, 0)
            h.drop()
            return True
        if fault == ERROR_5XX:
            self._stats.call(endpoint, status_5xx)
            if status_5xx == 503:
                page = b"<html><body><h1>503 Service Unavailable</h1></body></html>"
                h.respond(503, page, content_type="text/html", headers=headers)
            else:
                error = _error_envelope(500, "err_internal_server_error", "internal error", True)
                h.respond(500, error, headers=headers)
            return True
        if fault == SLOW and stopping.wait(self._faults.config.slow_ms / 1000.0):
            h.drop()
            return True
        return False

    def _throttled_body(self, h: SimHandler, rate: RateDecision) -> bytes:
        if (h.header("Authorization") or "").startswith("MC "):
            return _error_envelope(429, "err_rate_limit_exceeded", "Over throttling limit", True)
        return _dumps({"detail": f"Over throttling limit ({rate.limit} per window)"})

    def _token(
        self,
        h: SimHandler,
        body: bytes | None,
        headers: list[tuple[str, str]],
        drawn: tuple[str | None, int],
        stopping: threading.Event,
    ) -> None:
        fault, status_5xx = drawn
        if fault is not None and self._inject(h, TOKEN, fault, status_5xx, headers, stopping):
            return
        form = dict(parse_qsl((body or b"").decode("utf-8", "replace")))
        status, payload = self._auth.issue(form, h.header("Authorization"), self.now())
        if status == 200:
            self._stats.token_issued()
        data = _dumps(payload)
        if fault == MALFORMED:
            data = data[: max(1, len(data) // 2)]
        self._stats.call(TOKEN, status)
        h.respond(status, data, headers=headers)
