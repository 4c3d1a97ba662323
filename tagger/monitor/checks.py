"""Judge a :class:`~tagger.monitor.snapshot.Snapshot` for monitoring (pure).

Each finding is OK, WARNING or CRITICAL; the verdict is the worst, with the
Nagios plugin exit codes of :mod:`tagger.exitcodes` (0, 1, 2; 3 when the
status cannot be read at all). What is judged, and when:

- the last completed cycle of an account is older than ``warn_intervals``
  (``crit_intervals``) schedule intervals, or there is none;
- a watermark lags now by more than the ingestion delay plus as many
  intervals (the longest rule ``schedule`` counts instead of the interval
  when it is longer), unless the account's last cycle deferred work under
  the quota: the deferred messages hold the watermark, and the backlog is
  judged instead (at most a warning when that cycle also had errors);
- an account's quota backlog grew across ``monitor.backlog_warn_after``
  (warning; a flat, shrinking or younger backlog is no finding), or its
  oldest deferred message nears the farthest a cycle searches back
  (warning: older mail is never tagged). A quota deferral is never critical;
- an account was stopped (expired key binding: critical) or its last cycle
  was refused (warning);
- messages keep failing (warning) or were set aside (critical);
- rules are paused (warning, with since when, why and the pairs held);
- the kill switch is on, or an account is disabled (warning, with the pairs held);
- rules await promotion (warning, with how long and the pairs held; a rail
  holds no window, so it never makes a watermark lag);
- the last reload was rejected (warning: the daemon runs its previous rules);
- the rule files do not load now (warning: the next reload will be rejected);
- no process holds the state file's lock (critical) when a daemon is
  expected: always with ``expect_daemon`` True (``--daemon``,
  ``monitor.expect_daemon: true``), never with False (``--no-daemon``), and
  by default (None, ``auto``) once a live daemon has run on this state file
  and did not stop cleanly (its note beside the state file says so). Cycles
  run only by ``tagger once`` (from a timer) and a daemon stopped on purpose
  are no finding: the age of the last cycle still is.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from tagger import exitcodes
from tagger.monitor.backlog import Backlog, backlog_of, growth, latest_cycle
from tagger.monitor.snapshot import Snapshot
from tagger.state.held import AWAITING, DISABLED, KILL_SWITCH, LIMIT, PAUSED
from tagger.state.rows import RunRow
from tagger.words import plural

LEVELS = {
    exitcodes.NAGIOS_OK: "OK",
    exitcodes.NAGIOS_WARNING: "WARNING",
    exitcodes.NAGIOS_CRITICAL: "CRITICAL",
    exitcodes.NAGIOS_UNKNOWN: "UNKNOWN",
}


@dataclass(frozen=True, slots=True)
class Thresholds:
    """When staleness turns into a warning or a critical finding, and whether a daemon must run.

    ``expect_daemon``: True, False, or None (auto: once a daemon has run and
    not stopped cleanly).
    """

    warn_intervals: float = 3.0
    crit_intervals: float = 6.0
    expect_daemon: bool | None = None


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing monitoring should know: its level (a Nagios code) and what it is."""

    level: int
    text: str

    @property
    def label(self) -> str:
        """Return ``OK``, ``WARNING``, ``CRITICAL`` or ``UNKNOWN``."""
        return LEVELS[self.level]


def human(value: timedelta) -> str:
    """Return ``value`` for people: ``90s``, ``45m``, ``5h07m`` or ``3d04h``."""
    seconds = int(value.total_seconds())
    if seconds < 120:
        return f"{seconds}s"
    if seconds < 7200:
        return f"{seconds // 60}m"
    if seconds >= 172800:
        return f"{seconds // 86400}d{seconds % 86400 // 3600:02d}h"
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
    if snap.lock_held is False and daemon_expected(snap, limits.expect_daemon):
        out.append(Finding(exitcodes.NAGIOS_CRITICAL, _no_daemon_text(snap)))
    out += _cycle_findings(snap, limits)
    out += _watermark_findings(snap, limits)
    out += _backlog_findings(snap)
    out += _failure_findings(snap)
    out += _switch_findings(snap)
    out += _rule_file_findings(snap)
    out += _cluster_findings(snap)
    # Stable: findings of one level keep the order above.
    return sorted(out, key=lambda f: -f.level)


def daemon_expected(snap: Snapshot, expect: bool | None) -> bool:
    """Return whether a daemon should hold the lock (``expect`` None: auto, see the module)."""
    if expect is not None:
        return expect
    return snap.daemon is not None and snap.daemon.stopped is None


def _no_daemon_text(snap: Snapshot) -> str:
    """Say that no daemon holds the lock, and of the last one what is known."""
    text = f"no daemon holds the lock of {snap.state_path}"
    last = snap.daemon
    if last is not None and last.stopped is None:
        text += f" (the daemon started {last.started:%Y-%m-%d %H:%M:%S}Z did not stop cleanly)"
    return text


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
                    f"account {account}: last completed cycle {human(age)} ago "
                    f"(interval {human(snap.interval)})",
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
    """Return a finding per watermark lagging beyond the ingestion delay by too many intervals.

    The watermarks of an account whose last cycle deferred work under the
    quota are held by that backlog: no finding when the cycle was otherwise
    clean (the backlog is judged by :func:`_backlog_findings`), at most a
    warning when it had errors too.
    """
    out: list[Finding] = []
    unit = max(snap.interval, snap.longest_schedule)
    held = _held_by_backlog(snap)
    for account, key, mark in snap.watermarks:
        lag = snap.now - mark - snap.ingestion_delay
        level = _graded(lag, unit, limits)
        run = held.get(account)
        if not level or (run is not None and run.status == "ok"):
            continue
        text = f"account {account}: watermark lags {human(lag)} [{key}]"
        if run is not None:
            level = min(level, exitcodes.NAGIOS_WARNING)
            text += " (behind a quota backlog; the last cycle had errors too)"
        out.append(Finding(level, text))
    return out


def _held_by_backlog(snap: Snapshot) -> dict[str, RunRow]:
    """Return the accounts whose last cycle deferred work under the quota, with that cycle."""
    out: dict[str, RunRow] = {}
    for account in snap.accounts:
        run = latest_cycle(snap.cycles.get(account, ()))
        if run is not None and backlog_of(run).pending:
            out[account] = run
    return out


def _deferred(backlog: Backlog) -> str:
    """Return what ``backlog`` holds, in words (``340 messages and 2 searches deferred``)."""
    searches = f" and {plural(backlog.searches, 'search')}" if backlog.searches else ""
    return f"{backlog.messages} messages{searches} deferred"


def _backlog_findings(snap: Snapshot) -> list[Finding]:
    """Return a warning per account whose quota backlog grows or nears the catch-up horizon."""
    out: list[Finding] = []
    for account in snap.accounts:
        runs = snap.cycles.get(account, ())
        grown = growth(runs, snap.now, snap.backlog_span)
        if grown is not None:
            first, last = grown.first, grown.last
            age = last.age(snap.now)
            oldest = f"; the oldest waits {human(age)}" if age is not None else ""
            out.append(
                Finding(
                    exitcodes.NAGIOS_WARNING,
                    f"account {account}: quota backlog growing: {_deferred(last)}, up from"
                    f" {_deferred(first)} at {first.at:%Y-%m-%d %H:%M}Z (every one of"
                    f" {plural(grown.cycles, 'cycle')} deferred work){oldest}; the API quota"
                    " takes less than the account receives",
                )
            )
        run = latest_cycle(runs)
        age = backlog_of(run).age(snap.now) if run is not None else None
        if age is not None and age > snap.catchup * 0.75:
            out.append(
                Finding(
                    exitcodes.NAGIOS_WARNING,
                    f"account {account}: the oldest deferred message waits {human(age)}; cycles"
                    f" search back at most {human(snap.catchup)} (window.max_catchup):"
                    " older mail is never tagged",
                )
            )
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
                f"{plural(len(aside), 'message')} set aside (their tags wait for you:"
                " see tagger status)",
            )
        )
    if failing:
        out.append(
            Finding(exitcodes.NAGIOS_WARNING, f"{plural(len(failing), 'message')} failing, retried")
        )
    return out


def _held(snap: Snapshot, rule_id: str | None, reasons: tuple[str, ...]) -> str:
    """Return the open held pairs of ``rule_id`` (None: any) for ``reasons``, in words."""
    mine = [
        h for h in snap.held if (rule_id is None or h.rule_id == rule_id) and h.reason in reasons
    ]
    messages, pairs = sum(h.messages for h in mine), sum(h.pairs for h in mine)
    return f"{messages} messages, {pairs} tags held"


def _paused_text(snap: Snapshot, rule: str) -> str:
    """Return one paused rule (``id (account)``) with since when, why and what it holds."""
    rule_id = rule.split(" (", 1)[0]
    mine = [p for p in snap.pauses if f"{p.rule_id} ({p.account})" == rule]
    if not mine:
        return rule
    since = human(snap.now - mine[0].paused_at)
    return f"{rule} for {since} ({mine[0].reason}; {_held(snap, rule_id, (PAUSED, LIMIT))})"


def _awaiting_text(snap: Snapshot, rule_id: str) -> str:
    """Return one rule awaiting promotion with how long it has held matches and how many."""
    mine = [h for h in snap.held if h.rule_id == rule_id and h.reason == AWAITING]
    if not mine:
        return f"{rule_id} (nothing held yet)"
    since = human(snap.now - min(h.oldest for h in mine))
    return f"{rule_id} for {since} ({_held(snap, rule_id, (AWAITING,))})"


def _switch_findings(snap: Snapshot) -> list[Finding]:
    """Return a warning for paused rules, the kill switch, disabled accounts and rules on hold.

    Each is a rail an operator set or must lift, never a fault: at most a warning,
    saying how long and how many held pairs wait for it.
    """
    out: list[Finding] = []
    if snap.paused:
        texts = [_paused_text(snap, rule) for rule in snap.paused]
        out.append(
            Finding(
                exitcodes.NAGIOS_WARNING,
                f"rules paused: {', '.join(texts)} (tagger resume RULE)",
            )
        )
    if snap.kill_switch:
        out.append(
            Finding(
                exitcodes.NAGIOS_WARNING,
                f"kill switch on: nothing is applied ({_held(snap, None, (KILL_SWITCH,))};"
                " resume --all)",
            )
        )
    if snap.disabled:
        out.append(
            Finding(
                exitcodes.NAGIOS_WARNING,
                f"accounts disabled: {', '.join(snap.disabled)} ({_held(snap, None, (DISABLED,))})",
            )
        )
    if snap.awaiting:
        texts = [_awaiting_text(snap, rule) for rule in snap.awaiting]
        out.append(
            Finding(
                exitcodes.NAGIOS_WARNING,
                f"rules awaiting promotion: {', '.join(texts)} (tagger promote RULE)",
            )
        )
    return out


def _cluster_findings(snap: Snapshot) -> list[Finding]:
    """Return a warning per account no node holds, for applies in doubt, and an unread cluster."""
    if snap.cluster_error is not None:
        return [Finding(exitcodes.NAGIOS_WARNING, snap.cluster_error)]
    view = snap.cluster
    if view is None:
        return []
    out: list[Finding] = []
    enabled = [a for a in snap.accounts if a not in snap.disabled]
    known = {row.account for row in view.leases}
    unheld = [r.account for r in view.unheld(enabled, view.unheld_after_s)]
    unheld += [a for a in enabled if a not in known]
    if unheld:
        out.append(
            Finding(
                exitcodes.NAGIOS_WARNING,
                f"accounts held by no node: {', '.join(sorted(unheld))} (nothing tags them:"
                f" {plural(len(view.live()), 'node')} live; start a node or check that the"
                " nodes reach PostgreSQL)",
            )
        )
    for account, count in sorted(view.in_doubt.items()):
        out.append(
            Finding(
                exitcodes.NAGIOS_WARNING,
                f"account {account}: {plural(count, 'apply', 'applies')} in doubt after a"
                " takeover, not found tagged by reading back (tagger claims)",
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
