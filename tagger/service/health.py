"""What ``tagger status --check`` judges, as gauges the shipped alert rules read.

The daemon's other metrics count what cycles did; these say how it stands,
from the state file (the same rows ``tagger status`` reads) and the config:
when each account last completed a cycle and how its last cycle ended,
messages failing and set aside, the settings staleness and lag are judged
against, whether the last reload was rejected and whether the files on disk
would load now. Each alert in
``monitoring/prometheus/tagger-alerts.yaml`` names the check it mirrors.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterable
from datetime import timedelta

from tagger.config import Config
from tagger.monitor.snapshot import SCAN_RUNS
from tagger.rules import RuleSet
from tagger.service.declare import Declare
from tagger.state import StateStore

# Every status a run is recorded with (tagger.engine.run): one series each.
STATUSES = ("ok", "partial", "interrupted", "failed", "stopped")
# A run that ran to its end: what "the last completed cycle" means to status --check.
COMPLETED = ("ok", "partial")


class Health:
    """The daemon's health gauges, declared in the metrics' registry."""

    def __init__(self, new: Declare) -> None:
        self._completed = new.gauge(
            "tagger_last_cycle_completed_timestamp_seconds",
            "Unix time the account's last cycle that ran to its end (ok or partial) finished.",
        )
        self._status = new.gauge(
            "tagger_last_cycle_status",
            "1 for how the account's last cycle ended (ok, partial, interrupted, failed: refused,"
            " stopped: key binding expired), 0 for the other statuses.",
            "status",
        )
        self._failing = new.gauge(
            "tagger_messages_failing", "Messages whose processing failed and is retried."
        )
        self._aside = new.gauge(
            "tagger_messages_set_aside",
            "Messages set aside after max_failures attempts: their tags wait for an operator.",
        )
        self._interval = new.gauge(
            "tagger_schedule_interval_seconds",
            "schedule.interval: cycles are stale after several of them.",
        )
        self._unit = new.gauge(
            "tagger_watermark_interval_seconds",
            "What watermark lag is judged in: the schedule interval, or the longest rule"
            " schedule when longer.",
        )
        self._delay = new.gauge(
            "tagger_ingestion_delay_seconds",
            "window.ingestion_delay: how far behind real time every watermark stays by design.",
        )
        self._catchup = new.gauge(
            "tagger_catchup_seconds",
            "How far back a cycle searches at most (window.max_catchup or initial_lookback,"
            " the longer): deferred mail older than this is never tagged.",
        )
        self._rejected = new.daemon_gauge(
            "tagger_last_reload_rejected",
            "1 when the last reload was rejected: the daemon runs its previous rules.",
        )
        self._invalid = new.daemon_gauge(
            "tagger_rule_files_invalid",
            "1 when the config or rule files on disk do not load: the next reload would be"
            " rejected.",
        )
        self._reloads = new.daemon_counter(
            "tagger_reloads", "Reloads of config and rules (SIGHUP), by result.", "result"
        )

    def observe_settings(self, config: Config, ruleset: RuleSet, *more: RuleSet) -> None:
        """Set the per-account settings the alerts judge against, from ``config``.

        ``more`` are the accounts' own rule sets (their schedules count too).
        """
        interval = config.schedule.interval
        schedules = [r.schedule for s in (ruleset, *more) for r in s.rules if r.schedule]
        longest = max(schedules, default=timedelta(0))
        catchup = max(config.window.max_catchup, config.window.initial_lookback)
        for account in config.accounts:
            name = account.name
            self._interval.labels(name).set(interval.total_seconds())
            self._unit.labels(name).set(max(interval, longest).total_seconds())
            self._delay.labels(name).set(config.window.ingestion_delay.total_seconds())
            self._catchup.labels(name).set(catchup.total_seconds())

    def observe_state(self, state: StateStore, accounts: Iterable[str]) -> None:
        """Set each account's cycle outcome and failures from the state file.

        Given the open state and the configured accounts: the last run's
        status, the finish time of the last run that ran to its end (none
        yet: no series), and the messages failing and set aside (0 when none).
        """
        names = set(accounts)
        completed: dict[str, float] = {}
        for run in state.recent_runs(SCAN_RUNS):
            if run.status in COMPLETED and run.account in names:
                completed.setdefault(run.account, (run.finished_at or run.started_at).timestamp())
        for account, at in completed.items():
            self._completed.labels(account).set(at)
        for run in state.last_runs():
            if run.account in names:
                for status in STATUSES:
                    self._status.labels(run.account, status).set(int(run.status == status))
        failing: Tally[str] = Tally()
        aside: Tally[str] = Tally()
        for row in state.failures():
            (aside if row.set_aside_at is not None else failing)[row.account] += 1
        for account in names:
            self._failing.labels(account).set(failing[account])
            self._aside.labels(account).set(aside[account])

    def observe_reload(self, ok: bool) -> None:
        """Count one reload and set whether the daemon now runs its previous rules."""
        self._reloads.labels("done" if ok else "rejected").inc()
        self._rejected.set(0 if ok else 1)

    def observe_rule_files(self, ok: bool) -> None:
        """Set whether the config and rule files on disk load now."""
        self._invalid.set(0 if ok else 1)

    def started(self) -> None:
        """Set the reload and file gauges to 0 at start-up: the files in use just loaded."""
        self._rejected.set(0)
        self._invalid.set(0)
