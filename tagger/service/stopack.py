"""Answering ``tagger pause``: the running process acknowledges each stop request.

The command stores the kill switch (or a rule's pause) and then a numbered
stop request in the state file. Every apply reads the rails again at the
moment it is sent, so from the commit on no new apply goes out; what may
still reach Mimecast are the sends cleared just before it. This watcher
(one per live session, from the moment the state is open) reads the request
number every :data:`POLL_S` seconds; for a new one it waits until every send
under way when it saw it has its answer, then records the acknowledgement,
which the command waits for before it returns.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from datetime import datetime

import structlog

from tagger.engine.sends import Sends
from tagger.state import StateStore
from tagger.state.errors import StateError

log = structlog.get_logger("tagger.service")

# How often the state is read for a new stop request (seconds).
POLL_S = 0.05


async def acknowledge_stops(
    state: StateStore, sends: Sends, now: Callable[[], datetime], every: float = POLL_S
) -> None:
    """Acknowledge each new stop request once the sends before it have ended; runs until cancelled.

    A state that cannot be read or written is logged once (until it works
    again) and tried again; the command then says it got no confirmation.
    """
    acked: int | None = None
    failing = False
    while True:
        try:
            if acked is None:
                acked = state.stop_acknowledged()
            asked = state.stop_requested()
            if asked > acked:
                began = time.monotonic()
                mark = sends.mark()
                waited = sends.pending(mark)
                await sends.drained(mark)
                state.acknowledge_stop(asked, now())
                acked = asked
                log.info(
                    "stop_acknowledged",
                    request=asked,
                    sends_awaited=waited,
                    waited_s=round(time.monotonic() - began, 3),
                )
            failing = False
        except StateError as exc:
            if not failing:
                log.warning("stop_requests_unreadable", error=str(exc), retry_s=every)
            failing = True
        await asyncio.sleep(every)
