"""The long-running service: scheduled cycles, signals, reload, systemd notify, metrics.

APScheduler 3 decides when a cycle runs (``coalesce``, ``max_instances=1``,
an explicit misfire grace, jitter); what a cycle covers comes from the saved
watermarks, so time missed while the service was down is recovered by the
first cycle after it starts. SIGTERM/SIGINT stop it after in-flight applies
are recorded; SIGHUP reloads config and rules all-or-nothing.
"""

from __future__ import annotations

import asyncio
import signal
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler
from apscheduler.triggers.interval import IntervalTrigger

from tagger.config import Config, load_config
from tagger.engine.audit import write_entries
from tagger.engine.report import CycleReport
from tagger.errors import UserError
from tagger.service.metrics import Metrics
from tagger.service.notify import Notifier
from tagger.service.runtime import Runtime, cycle_options, open_runtime, run_cycle
from tagger.state import StateStore

log = structlog.get_logger("tagger.service")


def utc_now() -> datetime:
    """Return the current time (UTC, aware)."""
    return datetime.now(UTC)


@dataclass
class DaemonOptions:
    """What the ``run`` command asked for."""

    config_path: Path
    dry_run: bool = False
    max_cycles: int | None = None
    stop_timeout_s: float = 60.0


class Daemon:
    """Runs cycles on a schedule until stopped; owns the state file lock."""

    def __init__(
        self,
        config: Config,
        state: StateStore,
        options: DaemonOptions,
        notifier: Notifier,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self.config = config
        self.state = state
        self.options = options
        self.notifier = notifier
        self.now = now
        self.runtime: Runtime | None = None
        self.stop_event = asyncio.Event()
        self.cycles = 0
        self.cycle_lock = asyncio.Lock()
        self.metrics: Metrics | None = None
        self.last_success: datetime | None = None
        self._scheduler: AsyncIOScheduler | None = None
        self._reload_task: asyncio.Task[None] | None = None

    @property
    def dry_run(self) -> bool:
        """True when no tag is applied (flag or config)."""
        return self.options.dry_run or self.config.dry_run

    async def serve(self) -> int:
        """Start, run cycles until a stop signal (or ``max_cycles``), stop; returns exit code."""
        self.runtime = await open_runtime(self.config)
        loop = asyncio.get_running_loop()
        loop.add_signal_handler(signal.SIGTERM, self.request_stop, "SIGTERM")
        loop.add_signal_handler(signal.SIGINT, self.request_stop, "SIGINT")
        loop.add_signal_handler(signal.SIGHUP, self.request_reload)
        if self.config.metrics.enabled:
            self.metrics = Metrics()
            self.metrics.start_server(self.config.metrics.host, self.config.metrics.port)
        self._schedule()
        self.notifier.ready()
        self.notifier.status("started; first cycle running")
        log.info(
            "daemon_started",
            accounts=[a.name for a in self.runtime.accounts],
            rules=len(self.runtime.ruleset.rules),
            dry_run=self.dry_run,
            interval_s=self.config.schedule.interval.total_seconds(),
        )
        watchdog = asyncio.create_task(self._watchdog())
        try:
            await self.stop_event.wait()
        finally:
            self.notifier.stopping()
            log.info("daemon_stopping")
            if self._scheduler is not None:
                self._scheduler.shutdown(wait=False)
            try:
                async with asyncio.timeout(self.options.stop_timeout_s):
                    async with self.cycle_lock:
                        pass
            except TimeoutError:
                log.error("daemon_stop_timeout", timeout_s=self.options.stop_timeout_s)
            watchdog.cancel()
            if self.metrics is not None:
                self.metrics.close()
            await self.runtime.close()
            log.info("daemon_stopped", cycles=self.cycles)
        return 0

    def _schedule(self) -> None:
        """(Re)create the scheduler with the config's interval, jitter and misfire grace."""
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
        sched = self.config.schedule
        scheduler = AsyncIOScheduler(timezone=UTC)
        scheduler.add_job(
            self.cycle,
            IntervalTrigger(
                seconds=max(1, int(sched.interval.total_seconds())),
                jitter=int(sched.jitter.total_seconds()) or None,
                timezone=UTC,
            ),
            id="cycle",
            coalesce=True,
            max_instances=1,
            misfire_grace_time=max(1, int(sched.misfire_grace.total_seconds())),
            next_run_time=self.now(),
        )
        scheduler.start()
        self._scheduler = scheduler

    def request_stop(self, why: str = "") -> None:
        """Ask the daemon to stop after in-flight work (signal handler)."""
        log.info("stop_requested", signal=why)
        self.stop_event.set()

    def request_reload(self) -> None:
        """Reload config and rules in the background (SIGHUP handler)."""
        if self._reload_task is None or self._reload_task.done():
            self._reload_task = asyncio.create_task(self.reload())

    async def reload(self) -> None:
        """Reload config and rules all-or-nothing; on any problem keep the old set."""
        self.notifier.reloading()
        log.info("reload_started", config=str(self.options.config_path))
        try:
            config = load_config(self.options.config_path)
            if config.state_path != self.config.state_path:
                log.warning("reload_state_path_ignored", state_path=str(config.state_path))
            runtime = await open_runtime(config)
        except UserError as exc:
            for problem in exc.problems:
                log.error("reload_problem", problem=str(problem))
            log.error("reload_rejected", kept="previous configuration and rules")
            self.notifier.ready()
            self.notifier.status("reload rejected; running previous rules")
            return
        except Exception as exc:
            log.error("reload_rejected", error=str(exc), kept="previous configuration and rules")
            self.notifier.ready()
            return
        async with self.cycle_lock:
            old = self.runtime
            self.runtime = runtime
            self.config = config
        if old is not None:
            await old.close()
        self._schedule()
        self.notifier.ready()
        log.info(
            "reload_done", rules=len(runtime.ruleset.rules), ruleset=runtime.ruleset.content_hash
        )

    async def cycle(self) -> None:
        """Run one cycle over every account (the scheduled job)."""
        if self.stop_event.is_set() or self.runtime is None:
            return
        async with self.cycle_lock:
            started = self.now()
            options = cycle_options(self.config, dry_run=self.dry_run)
            try:
                reports = await run_cycle(
                    self.runtime, self.state, options, self.now, self.stop_event, "run"
                )
            except Exception as exc:
                log.exception("cycle_crashed", error=str(exc))
                return
            self.cycles += 1
            self._after_cycle(reports, started)
        if self.options.max_cycles is not None and self.cycles >= self.options.max_cycles:
            self.request_stop("max_cycles")

    def _after_cycle(self, reports: list[CycleReport], started: datetime) -> None:
        """Log, audit, update metrics and notify systemd after a cycle."""
        duration = (self.now() - started).total_seconds()
        for report in reports:
            for line in report.summary_lines():
                log.info("cycle_summary", account=report.account, summary=line)
        if self.config.audit_path is not None:
            write_entries(self.config.audit_path, reports)
        if self.metrics is not None:
            for report in reports:
                self.metrics.observe_cycle(report, duration, self.now())
        if all(not r.errors for r in reports):
            self.last_success = self.now()
            self.notifier.watchdog()
        applied = sum(r.applied for r in reports)
        planned = sum(r.planned for r in reports)
        scanned = sum(r.scanned for r in reports)
        verb = f"{planned} planned (dry run)" if self.dry_run else f"{applied} applied"
        self.notifier.status(
            f"cycle {self.cycles} at {started:%H:%M:%S}Z: {scanned} scanned, {verb}, "
            f"{sum(r.failed for r in reports)} failed"
        )

    async def _watchdog(self) -> None:
        """Ping the watchdog while cycles keep succeeding on schedule."""
        interval = self.notifier.watchdog_interval()
        if interval is None:
            return
        allowed = self.config.schedule.interval + self.config.schedule.misfire_grace
        while not self.stop_event.is_set():
            await asyncio.sleep(interval / 2)
            if self.last_success and self.now() - self.last_success <= allowed + timedelta(
                seconds=interval
            ):
                self.notifier.watchdog()
