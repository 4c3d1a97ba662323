"""The simulator: a real HTTP server on 127.0.0.1 speaking Mimecast's protocol.

:class:`Simulator` composes the mailbox, authentication, rate limits, faults
and statistics, serves them through :mod:`tagger.simulator.handlers` on a
background thread, and offers the controls tests and benchmarks use.
``GET /_sim/stats`` is a simulator-only endpoint (no authentication).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Mapping
from types import TracebackType
from typing import Any

from tagger.simulator import render
from tagger.simulator.auth import Authenticator
from tagger.simulator.config import FaultConfig, SimulatorConfig
from tagger.simulator.endpoints import Api
from tagger.simulator.faults import FaultInjector
from tagger.simulator.handlers import Pipeline
from tagger.simulator.mailbox import Mailbox
from tagger.simulator.ratelimit import RateLimiter
from tagger.simulator.records import SimMessage
from tagger.simulator.stats import Stats
from tagger.simulator.transport import SimHTTPServer

JSON = dict[str, Any]
STOP_TIMEOUT_S = 5.0


class Simulator:
    """A simulated Mimecast account served over HTTP; see the module docstring.

    ``clock`` returns epoch seconds (default ``time.time``); tests may pass a
    controllable one. Usable as a context manager (``start``/``stop``).
    """

    def __init__(
        self, config: SimulatorConfig | None = None, clock: Callable[[], float] | None = None
    ) -> None:
        self.config = config or SimulatorConfig()
        cfg = self.config
        self._clock = clock or time.time
        self.start_time = cfg.start_time.timestamp() if cfg.start_time else self._clock()
        self._mailbox = Mailbox(cfg, self.start_time)
        self._stats = Stats()
        self._auth = Authenticator(cfg.credentials, cfg.token_lifetime_s, cfg.max_clock_skew_s)
        self._limiter = RateLimiter(cfg.rate_limit, mode=cfg.rate_limit_mode)
        self._faults = FaultInjector(cfg.faults)
        self._api = Api(cfg, self._mailbox, self._stats)
        self._pipeline = Pipeline(
            cfg, self._clock, self._api, self._auth, self._limiter, self._faults, self._stats
        )
        self._server: SimHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle -------------------------------------------------------------------------
    def start(self) -> Simulator:
        """Bind and serve in a background thread; returns self. Raises ``OSError`` on bind."""
        if self._server is not None:
            raise RuntimeError("simulator already started")
        server = SimHTTPServer(
            (self.config.host, self.config.port),
            self._pipeline.dispatch,
            self.config.keepalive_timeout_s,
            self._clock,
        )
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="tagger-sim",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        """Stop serving, close every connection and join the threads (idempotent)."""
        server, self._server = self._server, None
        if server is None:
            return
        server.shutdown()
        server.close_all(STOP_TIMEOUT_S)
        server.server_close()
        if self._thread is not None:
            self._thread.join(STOP_TIMEOUT_S)
            self._thread = None

    def __enter__(self) -> Simulator:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    @property
    def port(self) -> int:
        """Return the bound port; raises ``RuntimeError`` before :meth:`start`."""
        if self._server is None:
            raise RuntimeError("simulator not started")
        return int(self._server.server_address[1])

    @property
    def url(self) -> str:
        """Return the base URL, e.g. ``http://127.0.0.1:8765``."""
        return f"http://{self.config.host}:{self.port}"

    # -- inspection and control --------------------------------------------------------------
    def now(self) -> float:
        """Return the simulator clock (epoch seconds)."""
        return self._clock()

    def stats(self) -> dict[str, Any]:
        """Return a snapshot of the counters (same as ``GET /_sim/stats``)."""
        return self._stats.snapshot()

    def reset_stats(self) -> None:
        """Zero the counters (the mailbox and its tags are unchanged)."""
        self._stats.reset()

    def messages(self) -> list[SimMessage]:
        """Return every message received so far, indexed for search or not, oldest first."""
        return self._mailbox.all(self.now())

    def _message(self, msg_id: str) -> SimMessage:
        m = self._mailbox.get(msg_id, self.now())
        if m is None:
            raise KeyError(msg_id)
        return m

    def message_info_json(self, msg_id: str) -> JSON:
        """Return get-message-info ``data[0]`` for a message; raises ``KeyError`` if unknown."""
        return render.message_info(self._message(msg_id), self._mailbox.tags_on(msg_id))

    def search_summary_json(self, msg_id: str) -> JSON:
        """Return the ``trackedEmails[]`` item for a message; raises ``KeyError`` if unknown."""
        return render.tracked_email(self._message(msg_id))

    def smart_tags(self) -> list[JSON]:
        """Return every tag as ``{id, name, description, parentId, path}``."""
        return [t.to_json() for t in self._mailbox.tags]

    def applied(self) -> dict[tuple[str, str], int]:
        """Return successful apply calls per (message ID, tag ID), idempotent repeats included."""
        return self._mailbox.apply_counts()

    def expire_tokens(self) -> None:
        """Expire every OAuth token issued so far."""
        self._auth.expire_tokens()

    def expire_key_binding(self, in_fail_item: bool = False) -> None:
        """Make API 1.0 requests fail with ``err_xdk_binding_expired`` (2.0 unaffected).

        As HTTP 418, or with ``in_fail_item`` as HTTP 200 whose ``fail[]`` holds the code.
        """
        self._auth.binding_expired = True
        self._auth.binding_expired_in_fail = in_fail_item

    def set_faults(self, faults: FaultConfig) -> None:
        """Change fault injection at run time."""
        self._faults.set(faults)

    def set_rate_limits(self, limits: Mapping[str, tuple[int, float]]) -> None:
        """Replace the per-endpoint ``(limit, window_s)`` (missing keys keep the config's)."""
        merged = {**self.config.rate_limits, **limits}
        self._limiter.set_limits(lambda e: merged.get(e, self.config.rate_limit(e)))

    def throttle(self, endpoint: str | None = None, calls: int = 1, reset_ms: int = 1000) -> None:
        """Answer the next ``calls`` requests to ``endpoint`` (None: any) with 429."""
        self._limiter.force(endpoint, calls, reset_ms)

    def fail_message(self, message_id: str, times: int, transient: bool = False) -> None:
        """Answer the next ``times`` get-message-info calls for ``message_id`` with a failure.

        The failure is a non-retryable ``fail[]`` item (HTTP 200), or with
        ``transient`` an HTTP 500 that a client retries; ``times=0`` cancels
        what is left.
        """
        self._api.fail_message(message_id, times, transient)

    def refuse(self, endpoint: str, status: int, times: int, after: int = 0) -> None:
        """Answer ``times`` calls of ``endpoint`` (e.g. ``"apply"``) with ``status``.

        401 or 403 after authentication passed, as when the application's
        credentials or role stop being accepted; the first ``after`` calls are
        served normally; ``times=0`` cancels what is left.
        """
        self._api.refuse(endpoint, status, times, after)

    def misanswer_info(self, times: int) -> None:
        """Answer the next ``times`` get-message-info calls with another message's info."""
        self._api.misanswer_info(times)

    def add_messages(self, n: int) -> list[SimMessage]:
        """Receive ``n`` new messages now; returns them."""
        return self._mailbox.add(n, self.now())
