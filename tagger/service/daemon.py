"""The long-running service: scheduled cycles, signals, reload, systemd notify, metrics.

APScheduler 3 decides when a cycle runs (``coalesce``, ``max_instances=1``,
an explicit misfire grace, jitter); what a cycle covers comes from the saved
watermarks, so time missed while the service was down is recovered by the
first cycle after it starts. SIGTERM/SIGINT stop it after in-flight applies
are recorded (bounded by ``stop_timeout_s``); SIGHUP reloads config and rules
all-or-nothing. A query whose rules all set a longer ``schedule`` is searched
only when that schedule is due.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

import structlog
from apscheduler.schedulers.asyncio import AsyncIOScheduler

from tagger import exitcodes
from tagger.cluster.seat import Seat
from tagger.config import Config
from tagger.engine.cycle import Hooks
from tagger.engine.options import Runtime, cycle_options
from tagger.engine.pruning import keep_for, prune
from tagger.engine.run import run_cycle
from tagger.engine.tally import CycleReport
from tagger.monitor.daemoninfo import note_daemon, note_stop
from tagger.service.backoff import CrashBackoff
from tagger.service.cyclelog import log_finished, log_reports, status_line, write_audit
from tagger.service.metrics import Metrics
from tagger.service.notify import Notifier
from tagger.service.quotawatch import QuotaWatch
from tagger.service.reload import Rejected, load_replacement
from tagger.service.rulewatch import RuleFilesWatch, first_problem
from tagger.service.runtime import utc_now
from tagger.service.schedule import start_scheduler
from tagger.service.session import Session, Signals, Stopped, dry_run_of, open_session
from tagger.service.webhook_sender import WebhookSender
from tagger.service.webhooks import Event, cycle_events, reload_event
from tagger.state.errors import StateDamaged, StateError, StateGone

log = structlog.get_logger("tagger.service")

# State rows past the longest look-back are deleted at most this often.
PRUNE_EVERY = timedelta(hours=1)


@dataclass
class DaemonOptions:
    """What the ``run`` command asked for."""

    config_path: Path
    dry_run: bool = False
    max_cycles: int | None = None
    stop_timeout_s: float = 60.0


async def serve(config: Config, options: DaemonOptions, notifier: Notifier) -> int:
    """Run the daemon with the loaded ``config`` until stopped; returns its exit code.

    The signal handlers are in place before anything is fetched: SIGTERM or
    SIGINT during start-up (say, while the token endpoint hangs) stops
    cleanly, and a SIGHUP then is kept and reloads once started. Raises
    UserError (config, rules, unknown tags, metrics address), StateError and
    MimecastError (an account unreachable) when it cannot start.
    """
    signals = Signals(reload=True)
    try:
        async with open_session(
            config, dry_run=dry_run_of(config, options.dry_run), signals=signals
        ) as session:
            return await Daemon(session, options, notifier).serve()
    except Stopped:
        log.info("daemon_stopped", cycles=0, during="start-up")
        return exitcodes.OK


class Daemon:
    """Runs cycles on a schedule until stopped.

    Given the open session (config, state, runtime and signal handlers; its
    dry-run flag is fixed for the life of the process, since a dry run works
    on a copy of the state), the options, the notifier and a clock.
    """

    def __init__(
        self,
        session: Session,
        options: DaemonOptions,
        notifier: Notifier,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self.session = session
        self.config = session.config
        self.state = session.state
        self.options = options
        self.notifier = notifier
        self.now = now
        self.dry_run = session.dry_run
        self.runtime = session.runtime
        self.stop_event = session.stop
        self.cycles = 0
        self.exit_code = exitcodes.OK
        self.cycle_lock = asyncio.Lock()
        self.metrics: Metrics | None = None
        # Webhooks (notify:): the sender starts with the first event to send.
        self.webhooks = WebhookSender(socket.gethostname(), now)
        self._paused_seen: dict[str, frozenset[str]] = {}
        # Whether the files on disk would load now (status --check judges the same).
        self.rule_watch = RuleFilesWatch(options.config_path, self.config)
        self.last_success: datetime | None = None
        self._last_prune: datetime | None = None
        self.last_progress: datetime | None = None
        self._hooks = Hooks(self._tag_applied, lambda _account: self.progressed())
        self._scheduler: AsyncIOScheduler | None = None
        self._reload_task: asyncio.Task[None] | None = None
        self._cycle_task: asyncio.Task[Any] | None = None
        # The cycle started when this node took an account's lease (see _follow_leases).
        self._kicked: asyncio.Future[None] | None = None
        # A crashing cycle (e.g. a full disk) is retried later and later, logged once.
        self.crashes = CrashBackoff(self.config.schedule.interval, self.config.state_path, now)
        # Each endpoint's quota use per cycle, beside the state file and in the metrics.
        self.quota = QuotaWatch(self.config.state_path)

    async def serve(self) -> int:
        """Start the schedule, run cycles until a stop signal (or ``max_cycles``).

        Returns 0, or 1 when it stopped because the state file was deleted,
        replaced or found damaged.

        Raises UserError (the metrics address) when it cannot start.
        """
        watchdog: asyncio.Task[None] | None = None
        asked_to_stop = False
        try:
            if self.config.metrics.enabled:
                self.metrics = Metrics()
                server = self.metrics.start_server(
                    self.config.metrics.host,
                    self.config.metrics.port,
                    allow_remote=self.config.metrics.allow_remote,
                )
                log.info("metrics_listening", host=server.host, port=server.port)
                self.metrics.health.started()
                self._observe_health(settings=True)
            self._schedule()
            self.notifier.ready()
            self.notifier.status("started; first cycle running")
            note_daemon(
                self.config.state_path,
                self.options.config_path,
                self.runtime,
                self.now(),
                dry_run=self.dry_run,
            )
            log.info(
                "daemon_started",
                accounts=[a.name for a in self.runtime.accounts],
                rules=self.runtime.rule_count(),
                dry_run=self.dry_run,
                interval_s=self.config.schedule.interval.total_seconds(),
                state=str(self.config.state_path),
            )
            self.session.signals.on_reload(self.request_reload)
            self._follow_leases()
            watchdog = asyncio.create_task(self._watchdog())
            await self.stop_event.wait()
            asked_to_stop = True
        finally:
            self.notifier.stopping()
            log.info("daemon_stopping")
            if self._scheduler is not None:
                self._scheduler.shutdown(wait=False)
            await self._drain()
            if watchdog is not None:
                watchdog.cancel()
            if self.metrics is not None:
                self.metrics.close()
            await self.webhooks.close()
            await self.runtime.close()  # closing again (the session's) does nothing
            if asked_to_stop and self.exit_code == exitcodes.OK:
                # A clean stop: status --check expects no daemon until one starts.
                note_stop(self.config.state_path, self.now(), dry_run=self.dry_run)
            log.info("daemon_stopped", cycles=self.cycles)
        return self.exit_code

    async def _drain(self) -> None:
        """Let the cycle in flight finish (it stops at its next step) within the stop timeout.

        Past the timeout the cycle is cancelled: applies still waiting for an
        answer are then unrecorded, which the next run re-checks.
        """
        if self._reload_task is not None and not self._reload_task.done():
            self._reload_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._reload_task
        task = self._cycle_task
        if task is None or task.done():
            return
        done, _ = await asyncio.wait({task}, timeout=self.options.stop_timeout_s)
        if not done:
            log.error("daemon_stop_timeout", timeout_s=self.options.stop_timeout_s)
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task

    def _schedule(self) -> None:
        """(Re)create the scheduler with the config's interval, jitter and misfire grace."""
        if self._scheduler is not None:
            self._scheduler.shutdown(wait=False)
        self._scheduler = start_scheduler(self.cycle, self.config.schedule, self.now())

    def request_stop(self, why: str = "") -> None:
        """Ask the daemon to stop after in-flight work."""
        self.session.signals.request_stop(why)

    def request_reload(self) -> None:
        """Reload config and rules in the background (SIGHUP handler)."""
        if self.stop_event.is_set():
            return
        if self._reload_task is None or self._reload_task.done():
            self._reload_task = asyncio.create_task(self.reload())

    async def reload(self) -> None:
        """Reload config and rules all-or-nothing; on any problem keep the old set.

        A rejected reload is logged as ``reload_rejected`` with every problem,
        located in its file. The state file and the dry-run mode cannot change
        without a restart (the state in use was opened for them).
        """
        self.notifier.reloading()
        log.info("reload_started", config=str(self.options.config_path))
        loaded = await load_replacement(self.options.config_path)
        if isinstance(loaded, Rejected):
            self._reload_rejected(loaded)
        else:
            await self._switch_to(*loaded)

    def _reload_rejected(self, rejected: Rejected) -> None:
        """Tell systemd, ``tagger status`` and the metrics that the previous rules keep running."""
        if self.metrics is not None:
            self.metrics.health.observe_reload(ok=False)
        self._notify([reload_event(rejected.problems, self.now())])
        self.notifier.ready()
        self.notifier.status(f"reload rejected ({rejected.first}); running previous rules")
        note_daemon(
            self.config.state_path,
            self.options.config_path,
            None,
            self.now(),
            dry_run=self.dry_run,
            reload_ok=False,
            problems=rejected.problems,
        )

    async def _switch_to(self, config: Config, runtime: Runtime) -> None:
        """Run ``config`` and ``runtime`` from the next cycle on; close the old runtime.

        The swap waits for the cycle in flight (``cycle_lock``); a changed
        state path or dry-run mode is logged and ignored.
        """
        if config.state_path != self.config.state_path:
            log.warning("reload_state_path_ignored", state_path=str(config.state_path))
        if dry_run_of(config, self.options.dry_run) != self.dry_run:
            log.warning("reload_dry_run_ignored", dry_run=self.dry_run, hint="restart to change")
        async with self.cycle_lock:
            old = self.runtime
            # The node's seat outlives a reload: its leases are the same.
            runtime.tenancy = old.tenancy
            if runtime.tenancy is not None:
                runtime.tenancy.serve([a.name for a in config.accounts])
            self.runtime = runtime
            self.config = config
        await old.close()
        self.rule_watch.loaded(config)
        if self.metrics is not None:
            self.metrics.health.observe_reload(ok=True)
            self.metrics.health.observe_rule_files(ok=True)
            self._observe_health(settings=True)
        self._schedule()
        self.notifier.ready()
        self.notifier.status(f"reloaded: {runtime.rule_count()} rules")
        note_daemon(
            self.config.state_path,
            self.options.config_path,
            runtime,
            self.now(),
            dry_run=self.dry_run,
            reload_ok=True,
        )
        log.info("reload_done", rules=runtime.rule_count(), ruleset=runtime.ruleset.content_hash)

    async def cycle(self) -> None:
        """Run one cycle over every account (the scheduled job).

        The cycle runs in its own task, shielded: shutting the scheduler down
        (on stop or reload) cancels the job, and must not cut off applies in
        flight; :meth:`serve` waits for the task instead.
        """
        if self.stop_event.is_set():
            return
        task = asyncio.create_task(self._cycle())
        self._cycle_task = task
        try:
            await asyncio.shield(task)
        except asyncio.CancelledError:
            # The scheduler was shut down under the job; the cycle goes on and is
            # awaited by serve() (re-raising would only log a spurious job error).
            return

    async def _cycle(self) -> None:
        """The body of :meth:`cycle`, serialised by ``cycle_lock``."""
        async with self.cycle_lock:
            runtime = self.runtime
            if self.stop_event.is_set():
                return
            if self.crashes.skip():
                return
            started = self.now()
            interval = self.config.schedule.interval
            options = cycle_options(
                self.config, interval=interval, max_cycle=self.config.schedule.cycle_bound
            )
            try:
                reports = await run_cycle(
                    runtime,
                    self.state,
                    options,
                    self.now,
                    self.stop_event,
                    "run",
                    self._hooks,
                    sends=self.session.sends,
                )
            except (StateGone, StateDamaged) as exc:
                # Retrying cannot help and carrying on could apply tags twice: stop.
                log.error("state_unusable", state=str(self.config.state_path), error=str(exc))
                self.exit_code = exitcodes.FAILURE
                self.request_stop("state_unusable")
                return
            except Exception as exc:
                self.crashes.crashed(exc)
                return
            self.crashes.succeeded()
            self.cycles += 1
            self._after_cycle(reports, started)
            await self._observe_cluster()
            await self._watch_rule_files()
        if self.options.max_cycles is not None and self.cycles >= self.options.max_cycles:
            self.request_stop("max_cycles")

    def _follow_leases(self) -> None:
        """Start a cycle as soon as this node takes an account's lease (a takeover, a rebalance).

        Without it, an account taken over would wait for the next scheduled
        cycle; the cycle runs only if none is under way (the one under way
        already runs on every account held when it started, the next one on
        the rest).
        """
        seat = self.runtime.tenancy
        if not isinstance(seat, Seat):
            return
        loop = asyncio.get_running_loop()

        def kick() -> None:
            if not self.stop_event.is_set() and not self.cycle_lock.locked():
                self._kicked = asyncio.ensure_future(self.cycle())

        def kick_soon() -> None:
            loop.call_soon_threadsafe(kick)

        seat.node.on_taken = kick_soon

    async def _observe_cluster(self) -> None:
        """Set the cluster's metrics from one read of the ledger (errors are only logged)."""
        seat = self.runtime.tenancy
        if self.metrics is None or not isinstance(seat, Seat):
            return
        try:
            view = await seat.view()
        except StateError as exc:
            log.warning("cluster_read_failed", error=str(exc))
            return
        self.metrics.observe_cluster(view, seat.node.owner)

    def _tag_applied(self, account: str, rule: str, tag: str) -> None:
        """Count the applied tag per rule when metrics are on."""
        if self.metrics is not None:
            self.metrics.tag_applied(account, rule, tag)

    def progressed(self) -> None:
        """Record that a cycle made progress, and feed the watchdog when it is on."""
        self.last_progress = self.now()
        if self.notifier.watchdog_interval() is not None:
            self.notifier.watchdog()

    def _after_cycle(self, reports: list[CycleReport], started: datetime) -> None:
        """Log, audit, update metrics and notify systemd after a cycle."""
        duration = (self.now() - started).total_seconds()
        log_reports(reports)
        if self.config.audit_path is not None:
            write_audit(self.config.audit_path, reports, self.config.audit_rotation)
        if self.metrics is not None:
            for report in reports:
                self.metrics.observe_cycle(report, duration, self.now())
            if self.runtime is not None:
                for acct in self.runtime.accounts:
                    self.metrics.observe_client(acct.name, acct.client.stats.as_dict())
            self._observe_health()
        if self.runtime is not None:
            self.quota.observe(
                self.runtime, self.now(), duration, dry_run=self.dry_run, metrics=self.metrics
            )
        events, self._paused_seen = cycle_events(reports, self._paused_seen, self.now())
        self._notify(events)
        if all(not r.errors for r in reports):
            self.last_success = self.now()
            self.notifier.watchdog()
        log_finished(self.cycles, started, duration, reports)
        self._prune()
        self.notifier.status(status_line(self.cycles, started, reports, self.dry_run))

    async def _watch_rule_files(self) -> None:
        """Check the config and rule files on disk when one changed; log and gauge the outcome.

        A file that no longer loads is what the next reload would reject:
        said once (``rule_files_invalid``, with the first problem) until it
        loads again (``rule_files_valid``).
        """
        if not self.rule_watch.changed(self.config):
            return
        problem = await asyncio.to_thread(first_problem, self.options.config_path)
        if problem != self.rule_watch.problem:
            if problem is None:
                log.info("rule_files_valid", config=str(self.options.config_path))
            else:
                log.warning(
                    "rule_files_invalid",
                    problem=problem,
                    hint="the next reload would be rejected: fix them (tagger validate) first",
                )
        self.rule_watch.problem = problem
        if self.metrics is not None:
            self.metrics.health.observe_rule_files(ok=problem is None)

    def _notify(self, events: list[Event]) -> None:
        """Queue ``events`` for the configured webhooks (a dry run sends nothing)."""
        if events and self.config.notify and not self.dry_run:
            self.webhooks.send(self.config.notify, events)

    def _observe_health(self, *, settings: bool = False) -> None:
        """Set the health gauges from the state (and the settings, at start and reload)."""
        if self.metrics is None:
            return
        if settings:
            self.metrics.health.observe_settings(
                self.config, self.runtime.ruleset, *self.runtime.own_rulesets()
            )
        try:
            self.metrics.health.observe_state(self.state, [a.name for a in self.config.accounts])
        except (StateError, sqlite3.Error) as exc:
            # The gauges keep their last values; the next cycle meets the cause itself.
            log.warning("metrics_state_unread", state=str(self.config.state_path), error=str(exc))

    def _prune(self) -> None:
        """Delete state rows older than the longest look-back, at most once an hour."""
        now = self.now()
        if self._last_prune is not None and now - self._last_prune < PRUNE_EVERY:
            return
        self._last_prune = now
        prune(
            self.state,
            now,
            keep_for(self.config, self.runtime.ruleset, *self.runtime.own_rulesets()),
        )

    async def _watchdog(self) -> None:
        """Ping the watchdog while cycles keep succeeding on schedule or making progress."""
        interval = self.notifier.watchdog_interval()
        if interval is None:
            return
        allowed = self.config.schedule.interval + self.config.schedule.misfire_grace
        while not self.stop_event.is_set():
            await asyncio.sleep(interval / 2)
            marks = [t for t in (self.last_success, self.last_progress) if t is not None]
            if marks and self.now() - max(marks) <= allowed + timedelta(seconds=interval):
                self.notifier.watchdog()
