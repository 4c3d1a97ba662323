"""When the daemon's cycles run: an APScheduler 3 interval job built from the config.

``coalesce`` and ``max_instances=1`` keep one cycle at a time however late
the loop is; the misfire grace and jitter come from the config. What a
cycle covers comes from the saved watermarks, not from the schedule.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import UTC, datetime

from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from tagger.config import ScheduleConfig


def start_scheduler(
    job: Callable[[], Awaitable[None]], schedule: ScheduleConfig, first_run: datetime
) -> AsyncIOScheduler:
    """Return a started scheduler running ``job`` every interval of ``schedule``.

    Given the job, the config's schedule (interval, jitter, misfire grace)
    and when the first run is due. Must be called inside the running loop.
    """
    scheduler = AsyncIOScheduler(timezone=UTC)
    scheduler.add_job(
        job,
        IntervalTrigger(
            seconds=max(1, int(schedule.interval.total_seconds())),
            jitter=int(schedule.jitter.total_seconds()) or None,
            timezone=UTC,
        ),
        id="cycle",
        coalesce=True,
        max_instances=1,
        misfire_grace_time=max(1, int(schedule.misfire_grace.total_seconds())),
        next_run_time=first_run,
    )
    scheduler.start()
    return scheduler
