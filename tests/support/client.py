"""Shared helpers of the Mimecast client tests: a fake clock and a recording transport."""

from __future__ import annotations

import asyncio
import base64
import heapq
import json
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest
import structlog

from tagger.mimecast.settings import (
    AccountSettings,
    HmacCredentials,
    OAuthCredentials,
    RetryPolicy,
)
from tagger.simulator import DEMO


class FakeTime:
    """A monotonic clock that only moves when ``sleep`` is awaited; records every sleep."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds
        await asyncio.sleep(0)


class RecordingSleep:
    """Really sleeps (the simulator runs on real time) and records each requested delay."""

    def __init__(self) -> None:
        self.delays: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        await asyncio.sleep(seconds)


@dataclass(frozen=True)
class Exchange:
    """One HTTP exchange seen by :class:`Recorder` (times on the monotonic clock)."""

    path: str
    sent_at: float
    answered_at: float
    status: int  # 0 when no response arrived (e.g. the server dropped the connection)
    reset_ms: int | None


class Recorder(httpx.AsyncBaseTransport):
    """Wraps the real network transport; records each exchange and every credential.

    It collects Authorization header values (bearer tokens, HMAC signatures)
    and access tokens from token responses, so tests can check that none of
    them ever appears in a log line or an exception, and it timestamps each
    exchange so tests can measure waits.
    """

    def __init__(self) -> None:
        self.inner = httpx.AsyncHTTPTransport()
        self.seen: set[str] = set()
        self.exchanges: list[Exchange] = []

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        auth = request.headers.get("authorization")
        if auth:
            self.seen.add(auth)
            self.seen.add(auth.split(" ", 1)[-1])
            if ":" in auth:
                self.seen.add(auth.rsplit(":", 1)[1])
        sent = time.monotonic()
        try:
            response = await self.inner.handle_async_request(request)
            content = await response.aread()
        except httpx.TransportError:
            self.exchanges.append(Exchange(request.url.path, sent, time.monotonic(), 0, None))
            raise
        reset = response.headers.get("x-ratelimit-reset")
        self.exchanges.append(
            Exchange(
                request.url.path,
                sent,
                time.monotonic(),
                response.status_code,
                int(reset) if reset is not None and reset.isdigit() else None,
            )
        )
        if request.url.path.endswith("/oauth/token"):
            try:
                token = json.loads(content).get("access_token")
            except (ValueError, AttributeError):
                token = None
            if isinstance(token, str) and token:
                self.seen.add(token)
        # The content is already decoded: drop the encoding so it is not decoded twice.
        headers = [(k, v) for k, v in response.headers.items() if k.lower() != "content-encoding"]
        return httpx.Response(response.status_code, headers=headers, content=content)

    async def aclose(self) -> None:
        await self.inner.aclose()


class SecretWatch:
    """Collects every text a user could see (exceptions, logs) and checks it for secrets."""

    def __init__(self, secrets: Iterable[str]) -> None:
        self.secrets = {s for s in secrets if s}
        self.texts: list[str] = []
        self.recorders: list[Recorder] = []
        self.events: list[Any] = []

    def recorder(self) -> Recorder:
        """Return a new recording transport whose credentials join the watch list."""
        rec = Recorder()
        self.recorders.append(rec)
        return rec

    def raised(self, exc: BaseException) -> BaseException:
        """Record ``str`` and ``repr`` of an exception and of its whole cause chain."""
        seen: set[int] = set()
        current: BaseException | None = exc
        while current is not None and id(current) not in seen:
            seen.add(id(current))
            self.texts += [str(current), repr(current), repr(current.args)]
            current = current.__cause__ or current.__context__
        return exc

    def leaks(self, extra: Iterable[str] = ()) -> list[str]:
        """Return every recorded text that contains a known secret."""
        secrets = set(self.secrets)
        for rec in self.recorders:
            secrets |= {s for s in rec.seen if len(s) >= 8}
        return [t for t in [*self.texts, *extra] if any(s in t for s in secrets)]


def envelope(data: list[Any], *, next_token: str | None = None, **extra: Any) -> dict[str, Any]:
    """Build a success envelope (optionally with a next page token)."""
    meta: dict[str, Any] = {"status": 200}
    if next_token is not None:
        meta["pagination"] = {"pageSize": 10, "next": next_token}
    return {"meta": meta, "data": data, "fail": [], **extra}


Handler = Callable[[httpx.Request], httpx.Response]

# Fast retries: the simulator answers in milliseconds, the tests should too.
FAST_RETRY = RetryPolicy(max_attempts=8, max_total_s=30.0, base_delay_s=0.01, max_delay_s=0.05)
WRONG_CLIENT_SECRET = "wrong-client-secret-4711"
WRONG_SECRET_KEY = base64.b64encode(b"wrong-hmac-key-material-0815").decode()

# Every secret a test could possibly leak (tokens and signatures are added live).
KNOWN_SECRETS = (
    DEMO.client_secret,
    DEMO.secret_key,
    base64.b64decode(DEMO.secret_key).decode(),
    DEMO.access_key,
    DEMO.app_key,
    WRONG_CLIENT_SECRET,
    WRONG_SECRET_KEY,
)


def credentials(mode: str, **override: str) -> OAuthCredentials | HmacCredentials:
    """Return the simulator's demo credentials for API ``mode`` ("1.0" or "2.0")."""
    if mode == "2.0":
        values = {"client_id": DEMO.client_id, "client_secret": DEMO.client_secret, **override}
        return OAuthCredentials(**values)
    values = {
        "access_key": DEMO.access_key,
        "secret_key": DEMO.secret_key,
        "app_id": DEMO.app_id,
        "app_key": DEMO.app_key,
        **override,
    }
    return HmacCredentials(**values)


def settings_for(url: str, mode: str, creds: Any = None, **kw: Any) -> AccountSettings:
    """Return account settings for a simulator at ``url`` in API ``mode``."""
    kw.setdefault("retry", FAST_RETRY)
    kw.setdefault("name", "sim")
    return AccountSettings(
        api_version=mode, base_url=url, credentials=creds or credentials(mode), **kw
    )


@pytest.fixture(autouse=True)
def watch(caplog: pytest.LogCaptureFixture) -> Iterator[SecretWatch]:
    """Capture structlog events and stdlib logs; fail the test if any holds a secret."""
    caplog.set_level(logging.DEBUG)
    w = SecretWatch(KNOWN_SECRETS)
    with structlog.testing.capture_logs() as events:
        w.events = events
        yield w
    lines = [repr(e) for e in events] + [r.getMessage() for r in caplog.records]
    lines += [caplog.text]
    assert w.leaks(lines) == []


def run(coro: Any) -> Any:
    """Run a coroutine to completion on a fresh event loop."""
    return asyncio.run(coro)


class VirtualTime:
    """A monotonic clock shared by concurrent tasks: ``sleep(d)`` resumes at ``now + d``.

    Unlike :class:`FakeTime`, sleeps overlap as real ones do: time only moves
    once every task is idle, straight to the earliest wake-up. Records every sleep.
    """

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []
        self._timers: list[tuple[float, int, asyncio.Future[None]]] = []
        self._seq = 0
        self._driver: asyncio.Task[None] | None = None

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        fut: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        self._seq += 1
        heapq.heappush(self._timers, (self.now + max(seconds, 0.0), self._seq, fut))
        if self._driver is None or self._driver.done():
            self._driver = asyncio.ensure_future(self._drive())
        await fut

    async def _drive(self) -> None:
        while self._timers:
            for _ in range(100):  # let every runnable task run until it blocks
                await asyncio.sleep(0)
            at, _, fut = heapq.heappop(self._timers)
            if not fut.done():
                self.now = max(self.now, at)
                fut.set_result(None)
