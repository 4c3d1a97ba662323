"""Judge a :class:`~tagger.monitor.snapshot.Snapshot` for monitoring (pure).

Each finding is OK, WARNING or CRITICAL; the verdict is the worst, with the
Nagios plugin exit codes of :mod:`tagger.exitcodes` (0, 1, 2; 3 when the
status cannot be read at all). What is judged, and when:

- the last completed cycle of an account is older than ``warn_intervals``
  (``crit_intervals``) schedule intervals, or there is none;
- a watermark lags now by more than the ingestion delay plus as many
  intervals (the longest rule ``schedule`` counts instead of the interval
  when it is longer);
- an account was stopped (expired key binding: critical) or its last cycle
  was refused (warning);
- messages keep failing (warning) or were set aside (critical);
- rules are paused (warning);
- the kill switch is on, or an account is disabled (warning);
- rules await promotion (warning: their windows stay held until promoted);
- the last reload was rejected (warning: the daemon runs its previous rules);
- the rule files do not load now (warning: the next reload will be rejected);
- no process holds the state file's lock (critical, unless no daemon is
  expected).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from tagger import exitcodes
from tagger.monitor.snapshot import Snapshot

LEVELS = {
    exitcodes.NAGIOS_OK: "OK",
    exitcodes.NAGIOS_WARNING: "WARNING",
    exitcodes.NAGIOS_CRITICAL: "CRITICAL",
    exitcodes.NAGIOS_UNKNOWN: "UNKNOWN",
}


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When staleness turns into a warning or a critical finding, and whether a daemon must run."""

    warn_intervals: float = 3.0
    crit_intervals: float = 6.0
    expect_daemon: bool = True


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing monitoring should know: its level (a Nagios code) and what it is."""

    level: int
    text: str

    @property
    def label(self) -> str:
        """Return ``OK``, ``WARNING``, ``CRITICAL`` or ``UNKNOWN``."""
        return LEVELS[self.level]


def _human(value: timedelta) -> str:
    seconds = int(value.total_seconds())
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    return f"{seconds // 3600}h{seconds % 3600 // 60:02d}m"


def _graded(age: timedelta, unit: timedelta, limits: Thresholds) -> int:
    if age > unit * limits.crit_intervals:
        return exitcodes.NAGIOS_CRITICAL
    if age > unit * limits.warn_intervals:
        return exitcodes.NAGIOS_WARNING
    return exitcodes.NAGIOS_OK


def findings(snap: Snapshot, limits: Thresholds) -> list[Finding]:
    """Return every finding about ``snap`` that is not OK (empty: all is well), worst first."""
    out: list[Finding] = []
    if limits.expect_daemon and snap.lock_held is False:
        out.append(
            Finding(exitcodes.NAGIOS_CRITICAL, f"no daemon holds the lock of {snap.state_path}")
        )
    out += _cycle_findings(snap, limits)
    out += _watermark_findings(snap, limits)
    out += _failure_findings(snap)
    out += _switch_findings(snap)
    out += _rule_file_findings(snap)
    # Stable: findings of one level keep the order above.
    return sorted(out, key=lambda f: -f.level)


def _cycle_findings(snap: Snapshot, limits: Thresholds) -> list[Finding]:
    """Return the findings about each account's cycles: none, stale, stopped or refused."""
    out: list[Finding] = []
    for account in snap.accounts:
        last = snap.last_completed.get(account)
        if last is None:
            level = exitcodes.NAGIOS_WARNING if snap.state_exists else exitcodes.NAGIOS_CRITICAL
            out.append(Finding(level, f"account {account}: no completed cycle recorded"))
            continue
        age = snap.now - (last.finished_at or last.started_at)
        level = _graded(age, snap.interval, limits)
        if level:
            out.append(
                Finding(
                    level,
                    f"account {account}: last completed cycle {_human(age)} ago "
                    f"(interval {_human(snap.interval)})",
                )
            )
    for run in snap.last_runs:
        if run.status == "stopped":
            out.append(Finding(exitcodes.NAGIOS_CRITICAL, f"account {run.account}: {run.error}"))
        elif run.status == "failed":
            out.append(
                Finding(
                    exitcodes.NAGIOS_WARNING,
                    f"account {run.account}: last cycle refused: {run.error}",
                )
            )
    return out


def _watermark_findings(snap: Snapshot, limits: Thresholds) -> list[Finding]:
    """Return a finding per watermark lagging beyond the ingestion delay by too many intervals."""
    out: list[Finding] = []
    unit = max(snap.interval, snap.longest_schedule)
    for account, key, mark in snap.watermarks:
        lag = snap.now - mark - snap.ingestion_delay
        level = _graded(lag, unit, limits)
        if level:
            out.append(Finding(level, f"account {account}: watermark lags {_human(lag)} [{key}]"))
    return out


def _failure_findings(snap: Snapshot) -> list[Finding]:
    """Return the findings about messages set aside (critical) or failing (warning)."""
    out: list[Finding] = []
    aside = [f for f in snap.failures if f.set_aside_at is not None]
    failing = [f for f in snap.failures if f.set_aside_at is None]
    if aside:
        out.append(
            Finding(
                exitcodes.NAGIOS_CRITICAL,
                f"{len(aside)} messages set aside (their tags wait for you: see tagger status)",
            )
        )
    if failing:
        out.append(Finding(exitcodes.NAGIOS_WARNING, f"{len(failing)} messages failing, retried"))
    return out


def _switch_findings(snap: Snapshot) -> list[Finding]:
    """Return a warning for paused rules, the kill switch, disabled accounts and rules on hold."""
    out: list[Finding] = []
    if snap.paused:
        out.append(Finding(exitcodes.NAGIOS_WARNING, f"rules paused: {', '.join(snap.paused)}"))
    if snap.kill_switch:
        out.append(
            Finding(exitcodes.NAGIOS_WARNING, "kill switch on: nothing is applied (resume --all)")
        )
    if snap.disabled:
        out.append(
            Finding(exitcodes.NAGIOS_WARNING, f"accounts disabled: {', '.join(snap.disabled)}")
        )
    if snap.awaiting:
        out.append(
            Finding(
                exitcodes.NAGIOS_WARNING,
                f"rules awaiting promotion: {', '.join(snap.awaiting)} (tagger promote RULE)",
            )
        )
    return out


def _rule_file_findings(snap: Snapshot) -> list[Finding]:
    """Return a warning when the last reload was rejected, and one when the rules do not load."""
    out: list[Finding] = []
    reload = snap.daemon.reload if snap.daemon is not None else None
    if reload is not None and not reload.ok:
        first = reload.problems[0] if reload.problems else "see the log"
        out.append(
            Finding(
                exitcodes.NAGIOS_WARNING,
                f"last reload rejected at {reload.at:%Y-%m-%d %H:%M:%S}Z ({first}); "
                "running the previous rules",
            )
        )
    if snap.rules_error is not None:
        out.append(Finding(exitcodes.NAGIOS_WARNING, f"rule files do not load: {snap.rules_error}"))
    return out


def verdict(found: list[Finding]) -> int:
    """Return the Nagios exit code of ``found``: the worst level, 0 when empty."""
    return max((f.level for f in found), default=exitcodes.NAGIOS_OK)
