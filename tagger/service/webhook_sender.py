"""Delivers webhook events in the background: repeats held back, retried, never blocking.

Events go into a bounded queue that one task empties; a cycle only enqueues
(a slow or dead receiver never delays tagging). The same event (kind,
account, rule) goes to a target at most once per its ``repeat_after``. A
delivery is retried on network errors, 429 (after ``Retry-After``, at most a
minute) and 5xx, up to the target's ``max_attempts`` with doubling waits; a
refusal (another 4xx) is given up at once. Logs name the target as
``notify[N] (format)``: its URL carries a token and is never written.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime

import httpx
import structlog

from tagger.config.notify import NotifyTarget
from tagger.service.runtime import utc_now
from tagger.service.webhooks import Event, body

log = structlog.get_logger("tagger.notify")

QUEUE_SIZE = 100
MAX_RETRY_AFTER_S = 60.0


class WebhookSender:
    """Sends events to the ``notify`` targets from a background task (started on first use).

    Given the host name the bodies name, a clock, the first retry delay and
    a sleep (both injectable for tests).
    """

    def __init__(
        self,
        host: str,
        now: Callable[[], datetime] = utc_now,
        first_delay_s: float = 1.0,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self.host = host
        self._now = now
        self._first_delay = first_delay_s
        self._sleep = sleep
        self._queue: asyncio.Queue[tuple[NotifyTarget, Event]] = asyncio.Queue(QUEUE_SIZE)
        self._last: dict[tuple[int, tuple[str, str, str]], datetime] = {}
        self._task: asyncio.Task[None] | None = None

    def send(self, targets: Sequence[NotifyTarget], events: Iterable[Event]) -> int:
        """Queue each event for each target that wants it and has not had it lately.

        Returns how many deliveries were queued. Must be called from the
        event loop; never blocks (a full queue drops the delivery, logged).
        """
        queued = 0
        for event in events:
            for target in targets:
                if event.kind not in target.events:
                    continue
                key = (target.index, event.key)
                last = self._last.get(key)
                if last is not None and self._now() - last < target.repeat_after:
                    log.debug("notify_held", target=target.name, notify_event=event.kind)
                    continue
                try:
                    self._queue.put_nowait((target, event))
                except asyncio.QueueFull:
                    log.warning("notify_dropped", target=target.name, notify_event=event.kind)
                    continue
                self._last[key] = self._now()
                queued += 1
        if queued and self._task is None:
            self._task = asyncio.create_task(self._work())
        return queued

    async def close(self, timeout_s: float = 5.0) -> None:
        """Wait up to ``timeout_s`` for the queued deliveries, then stop the task."""
        if self._task is None:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._queue.join(), timeout_s)
        self._task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await self._task
        self._task = None

    async def _work(self) -> None:
        async with httpx.AsyncClient(follow_redirects=False) as client:
            while True:
                target, event = await self._queue.get()
                try:
                    await self.deliver(client, target, event)
                finally:
                    self._queue.task_done()

    async def deliver(self, client: httpx.AsyncClient, target: NotifyTarget, event: Event) -> bool:
        """Post ``event`` to ``target`` with retries; return whether it was accepted."""
        payload = body(target.format, event, self.host)
        delay = self._first_delay
        for attempt in range(1, target.max_attempts + 1):
            wait: float | None = delay
            try:
                response = await client.post(target.url, json=payload, timeout=target.timeout_s)
            except httpx.TransportError as exc:
                outcome = type(exc).__name__  # never str(exc): it may quote the URL
            else:
                if response.is_success:
                    log.info(
                        "notify_sent", target=target.name, notify_event=event.kind, attempts=attempt
                    )
                    return True
                outcome = f"http_{response.status_code}"
                if response.status_code == 429:
                    wait = _retry_after(response, delay)
                elif response.status_code < 500:
                    wait = None  # refused: retrying sends the same refused body
            if wait is None or attempt == target.max_attempts:
                log.error(
                    "notify_failed",
                    target=target.name,
                    notify_event=event.kind,
                    attempts=attempt,
                    error=outcome,
                    hint="check the webhook URL and that the receiver accepts this format",
                )
                return False
            log.warning("notify_retry", target=target.name, notify_event=event.kind, error=outcome)
            await self._sleep(wait)
            delay *= 2
        return False


def _retry_after(response: httpx.Response, default: float) -> float:
    """Return the seconds ``Retry-After`` asks for (at most a minute), else ``default``."""
    raw = response.headers.get("Retry-After", "")
    try:
        return min(max(float(raw), 0.0), MAX_RETRY_AFTER_S)
    except ValueError:
        return default
