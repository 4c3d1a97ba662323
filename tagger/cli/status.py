"""``tagger status``: what the daemon did, for people (text), programs (``--json``) and monitoring.

Reads the state file read-only (safe while the daemon runs), the daemon's note
beside it and whether the lock is held. ``--check`` prints one Nagios-style
line and exits 0 (OK), 1 (WARNING), 2 (CRITICAL) or 3 (UNKNOWN: the state
cannot be read); see :mod:`tagger.monitor.checks` for what is judged.
"""

from __future__ import annotations

import argparse
import json
import sqlite3
from datetime import UTC, datetime
from typing import Any

from tagger import exitcodes
from tagger.cli.context import load
from tagger.config import Config
from tagger.errors import UserError
from tagger.monitor.backlog import backlog_of, growth, latest_cycle
from tagger.monitor.checks import LEVELS, Finding, Thresholds, findings, human, verdict
from tagger.monitor.snapshot import Snapshot, take_snapshot
from tagger.state import StateError
from tagger.state.rows import RunRow
from tagger.words import plural


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    """Add the ``status`` sub-command."""
    parser = sub.add_parser(
        "status", parents=[parent], help="show what the daemon did (reads the state file)"
    )
    out = parser.add_mutually_exclusive_group()
    out.add_argument("--json", action="store_true", help="print the status as JSON")
    out.add_argument(
        "--check",
        action="store_true",
        help="monitoring: one line, exit 0 ok, 1 warning, 2 critical, 3 unknown",
    )
    parser.add_argument(
        "--history", type=int, default=10, metavar="N", help="recent cycles shown (default 10)"
    )
    parser.add_argument(
        "--warn-intervals",
        type=float,
        default=3.0,
        metavar="N",
        help="warn when the last completed cycle or a watermark is N intervals old (default 3)",
    )
    parser.add_argument(
        "--crit-intervals",
        type=float,
        default=6.0,
        metavar="N",
        help="critical at N intervals (default 6)",
    )
    expect = parser.add_mutually_exclusive_group()
    expect.add_argument(
        "--daemon",
        dest="expect_daemon",
        action="store_const",
        const=True,
        help="a daemon must hold the lock (default: monitor.expect_daemon, auto: once a"
        " daemon has run and did not stop cleanly)",
    )
    expect.add_argument(
        "--no-daemon",
        dest="expect_daemon",
        action="store_const",
        const=False,
        help="no daemon is expected (cycles run by `tagger once` from a timer)",
    )
    parser.set_defaults(handler=handle)


def _ago(value: datetime | None, now: datetime) -> str:
    """Return ``value`` and how long ago it was, for humans."""
    if value is None:
        return "never"
    seconds = int((now - value).total_seconds())
    return f"{value:%Y-%m-%d %H:%M:%S}Z ({seconds // 3600}h{seconds % 3600 // 60:02d}m ago)"


def _criteria(key: str) -> str:
    """Return a query key with its unset criteria left out (``route=inbound; attachments=True``)."""
    parts = [p for p in key.split(";") if p.partition("=")[2] not in ("", "None")]
    return "; ".join(parts) or "all mail"


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def _run_json(run: RunRow) -> dict[str, Any]:
    return {
        "id": run.id,
        "kind": run.kind,
        "account": run.account,
        "dry_run": run.dry_run,
        "started": _time(run.started_at),
        "finished": _time(run.finished_at),
        "status": run.status,
        "counts": dict(run.counts),
        "error": run.error,
    }


def _path(snap: Snapshot, tag_id: str) -> str | None:
    return snap.tag_paths.get(tag_id)


def backlog_json(snap: Snapshot, account: str) -> dict[str, Any] | None:
    """Return what ``account``'s last cycle left to the quota's next turns (None: no cycle).

    ``messages`` and ``searches`` deferred, the oldest deferred message's
    received time and age in seconds, when that cycle started (``as_of``),
    and since when the backlog has grown across the span (None: it has not).
    """
    runs = snap.cycles.get(account, ())
    run = latest_cycle(runs)
    if run is None:
        return None
    backlog = backlog_of(run)
    age = backlog.age(snap.now)
    grown = growth(runs, snap.now, snap.backlog_span)
    return {
        "messages": backlog.messages,
        "searches": backlog.searches,
        "oldest_deferred": _time(backlog.oldest),
        "oldest_age_s": None if age is None else round(age.total_seconds()),
        "as_of": _time(backlog.at),
        "growing_since": None if grown is None else _time(grown.first.at),
        "span_s": round(snap.backlog_span.total_seconds()),
    }


def backlog_line(snap: Snapshot, account: str) -> str:
    """Return ``account``'s backlog for people, one line."""
    runs = snap.cycles.get(account, ())
    run = latest_cycle(runs)
    if run is None:
        return f"backlog {account}: no cycle recorded"
    backlog = backlog_of(run)
    if not backlog.pending:
        return f"backlog {account}: no backlog (last cycle {_ago(backlog.at, snap.now)})"
    parts = [plural(backlog.messages, "message")]
    if backlog.searches:
        parts.append(plural(backlog.searches, "search"))
    text = f"backlog {account}: {' and '.join(parts)} deferred by the last cycle"
    age = backlog.age(snap.now)
    if age is not None:
        text += f"; oldest received {human(age)} ago"
    grown = growth(runs, snap.now, snap.backlog_span)
    if grown is not None:
        text += (
            f"; GROWING since {grown.first.at:%Y-%m-%d %H:%M}Z"
            f" (from {plural(grown.first.messages, 'message')})"
        )
    else:
        text += f"; not growing across {human(snap.backlog_span)}"
    return text


def quota_json(snap: Snapshot, account: str) -> list[dict[str, Any]]:
    """Return ``account``'s quota use per endpoint in the daemon's last cycle (empty: no note)."""
    note = snap.quota
    if note is None:
        return []
    return [
        {
            "endpoint": e.endpoint,
            "accepted_per_s": round(e.accepted_per_s, 3),
            "throttled": e.throttled,
            "refill_per_s": None if e.refill_per_s is None else round(e.refill_per_s, 3),
            "answered_total": e.answered_total,
            "throttled_total": e.throttled_total,
            "as_of": _time(note.at),
            "cycle_s": round(note.cycle_s, 3),
        }
        for e in note.endpoints
        if e.account == account
    ]


def quota_lines(snap: Snapshot, account: str) -> list[str]:
    """Return ``account``'s quota use for people: one line per endpoint called."""
    note = snap.quota
    if note is None:
        return []
    lines = []
    for e in note.endpoints:
        if e.account != account:
            continue
        refill = "not known" if e.refill_per_s is None else f"{e.refill_per_s:.2f}/s"
        lines.append(
            f"quota {account} {e.endpoint}: {e.accepted_per_s:.2f} calls/s accepted,"
            f" {e.throttled} answered 429, refill {refill}"
            f" (last cycle, {note.cycle_s:.0f} s, {_ago(note.at, snap.now)})"
        )
    return lines


def rules_json(snap: Snapshot, account: str) -> dict[str, Any] | None:
    """Return which rule set ``account`` runs (None when the rules do not load)."""
    info = snap.rule_sets.get(account)
    if info is None:
        return None
    return {
        "files": list(info.files),
        "rules": info.rules,
        "own": info.own,
        "awaiting_promotion": list(info.awaiting),
    }


def rule_set_lines(snap: Snapshot) -> list[str]:
    """Return a line per account saying which rules it runs, when some have their own."""
    if not any(info.own for info in snap.rule_sets.values()):
        return []
    lines = []
    for account, info in snap.rule_sets.items():
        how = f"own rules, {info.own}" if info.own else "top-level rules"
        waiting = f"; awaiting promotion: {', '.join(info.awaiting)}" if info.awaiting else ""
        lines.append(
            f"rules of {account}: {plural(info.rules, 'rule')} ({how}) from"
            f" {', '.join(info.files)}{waiting}"
        )
    return lines


def as_json(snap: Snapshot, found: list[Finding]) -> dict[str, Any]:
    """Return the whole status as JSON-able data."""
    daemon = snap.daemon
    reload = daemon.reload if daemon is not None else None
    return {
        "now": _time(snap.now),
        "state": str(snap.state_path),
        "state_exists": snap.state_exists,
        "lock_held": snap.lock_held,
        "daemon": None
        if daemon is None
        else {
            "pid": daemon.pid,
            "started": _time(daemon.started),
            "config": daemon.config,
            "stopped": _time(daemon.stopped),
        },
        "last_reload": None
        if reload is None
        else {"at": _time(reload.at), "ok": reload.ok, "problems": list(reload.problems)},
        "accounts": {
            account: {
                "last_completed": _run_json(snap.last_completed[account])
                if account in snap.last_completed
                else None,
                "backlog": backlog_json(snap, account),
                "quota": quota_json(snap, account),
                "rules": rules_json(snap, account),
            }
            for account in snap.accounts
        },
        "last_runs": [_run_json(r) for r in snap.last_runs],
        "recent_cycles": [_run_json(r) for r in snap.history],
        "watermarks": [
            {
                "account": a,
                "query": k,
                "watermark": _time(m),
                "lag_s": round((snap.now - m).total_seconds()),
            }
            for a, k, m in snap.watermarks
        ],
        "tags_per_rule": [
            {"rule": rule, "tag_id": tag, "tag_path": _path(snap, tag), "applied": n}
            for (rule, tag), n in sorted(snap.tags_per_rule.items())
        ],
        "failures": [
            {
                "account": f.account,
                "message_id": f.message_id,
                "attempts": f.attempts,
                "set_aside": f.set_aside_at is not None,
                "last_error": f.last_error,
            }
            for f in snap.failures
        ],
        "paused_rules": list(snap.paused),
        "held_pairs": [
            {
                "account": h.account,
                "rule": h.rule_id,
                "reason": h.reason,
                "messages": h.messages,
                "pairs": h.pairs,
                "oldest": _time(h.oldest),
            }
            for h in snap.held
        ],
        "awaiting_promotion": list(snap.awaiting),
        "kill_switch": snap.kill_switch,
        "generation": snap.generation,
        "behind_marker": None
        if snap.behind is None
        else {"state": snap.behind[0], "marker": snap.behind[1]},
        "verifying": {
            "since": _time(snap.unsure_since),
            "accounts": list(snap.verifying()),
        },
        "disabled_accounts": list(snap.disabled),
        "rules_error": snap.rules_error,
        "check": {
            "status": LEVELS[verdict(found)],
            "findings": [{"level": f.label, "text": f.text} for f in found],
        },
    }


def _cycle_line(run: RunRow) -> str:
    took = (
        f"{(run.finished_at - run.started_at).total_seconds():.1f}s"
        if run.finished_at is not None
        else "unfinished"
    )
    counts = run.counts
    figures = ", ".join(
        f"{k} {counts[k]}" for k in ("found", "matched", "applied", "failed") if k in counts
    )
    dry = " (dry run)" if run.dry_run else ""
    return (
        f"  {run.started_at:%Y-%m-%d %H:%M:%S}Z {run.kind}{dry} {run.account}: {run.status}, "
        f"{took}" + (f", {figures}" if figures else "") + (f" ({run.error})" if run.error else "")
    )


def text_lines(snap: Snapshot, found: list[Finding]) -> list[str]:
    """Return the status for people."""
    now = snap.now
    lines = [f"state: {snap.state_path}"]
    daemon = snap.daemon
    if snap.lock_held:
        pid = f" (pid {daemon.pid}, started {_ago(daemon.started, now)})" if daemon else ""
        lines.append(f"daemon: running{pid}")
    elif snap.lock_held is False and daemon is not None and daemon.stopped is not None:
        lines.append(f"daemon: stopped cleanly {_ago(daemon.stopped, now)}")
    elif snap.lock_held is False and daemon is not None:
        lines.append("daemon: not running (no process holds the state file's lock)")
    elif snap.lock_held is False:
        lines.append("daemon: none has run (cycles from `tagger once`)")
    if daemon is not None and daemon.reload is not None:
        r = daemon.reload
        verdict_text = "accepted" if r.ok else "REJECTED, running the previous rules"
        lines.append(f"last reload: {verdict_text} at {r.at:%Y-%m-%d %H:%M:%S}Z")
        lines.extend(f"  {p}" for p in r.problems)
    if not snap.last_runs:
        lines.append("no runs recorded")
    for run in snap.last_runs:
        lines.append(
            f"account {run.account}: last {run.kind} {_ago(run.started_at, now)} "
            f"status {run.status}" + (f" ({run.error})" if run.error else "")
        )
        for key, value in sorted(run.counts.items()):
            lines.append(f"  {key}: {value}")
    lines.extend(backlog_line(snap, account) for account in snap.accounts)
    lines.extend(rule_set_lines(snap))
    for account in snap.accounts:
        lines.extend(quota_lines(snap, account))
    for account, key, mark in snap.watermarks:
        lines.append(f"watermark {account} [{_criteria(key)}]: {_ago(mark, now)}")
    if snap.tags_per_rule:
        lines.append("tags applied per rule:")
        for (rule_id, tag_id), count in sorted(snap.tags_per_rule.items()):
            path = _path(snap, tag_id) or "(path unknown)"
            lines.append(f"  {rule_id} -> {path} ({tag_id}): {count}")
    if snap.history:
        lines.append("recent cycles (newest first):")
        lines.extend(_cycle_line(run) for run in snap.history)
    if snap.failures:
        lines.append("failures:")
        for failure in snap.failures:
            lines.append(
                f"  {failure.account} {failure.message_id}: {plural(failure.attempts, 'attempt')}"
                + (" (set aside)" if failure.set_aside_at else "")
                + f": {failure.last_error}"
            )
    if snap.paused:
        lines.append(f"paused rules: {', '.join(snap.paused)}")
    if snap.awaiting:
        lines.append(f"awaiting promotion: {', '.join(snap.awaiting)}")
    if snap.held:
        lines.append("held pairs (applied once the rail is lifted):")
        for h in snap.held:
            lines.append(
                f"  {h.account} {h.rule_id} ({h.reason}): {h.messages} messages,"
                f" {h.pairs} tags, the first held {_ago(h.oldest, now)}"
            )
    lines.append(
        f"kill switch: {'ON (tagger resume --all lifts it)' if snap.kill_switch else 'off'}"
    )
    if snap.disabled:
        lines.append(f"disabled accounts: {', '.join(snap.disabled)}")
    if snap.behind is not None:
        mine, theirs = snap.behind
        lines.append(
            f"state generation {mine} is behind its marker's ({theirs if theirs else 'gone'}):"
            " a copy, a restored backup or a cut-off cycle; the next run verifies each apply"
        )
    if snap.verifying():
        lines.append(
            f"verifying: {', '.join(snap.verifying())} read the tags already on each message"
            " before applying (the state was lost, restored or older than its marker"
            f" {_ago(snap.unsure_since, now)}) until a cycle of each completes"
        )
    lines.append(f"check: {LEVELS[verdict(found)]}")
    lines.extend(f"  {f.label}: {f.text}" for f in found)
    return lines


def check_line(found: list[Finding]) -> str:
    """Return the one-line Nagios plugin output (``TAGGER WARNING - …``)."""
    code = verdict(found)
    text = "; ".join(f.text for f in found) or "cycles on time, nothing failing"
    return f"TAGGER {LEVELS[code]} - {text}"


def handle(args: argparse.Namespace) -> int:
    """Print the status; 0 (or, with ``--check``, the Nagios code of the verdict).

    Under ``--check`` anything that keeps the status from being read (the
    config, the state file damaged or unreadable) is UNKNOWN (3) with the
    reason on the one line, as monitoring systems expect; otherwise it
    reaches :func:`tagger.cli.main.main` (exit 1, or 2 for the config).
    """
    if args.check:
        try:
            return _check(args)
        except (UserError, StateError, OSError, UnicodeError, sqlite3.Error) as exc:
            text = " ".join(str(exc).split())
            print(f"TAGGER UNKNOWN - {text}")
            return exitcodes.NAGIOS_UNKNOWN
    config = load(args)
    limits = _thresholds(args, config)
    snap = take_snapshot(config, datetime.now(UTC), max(0, args.history))
    found = findings(snap, limits)
    if args.json:
        print(json.dumps(as_json(snap, found), indent=2))
        return exitcodes.OK
    if not snap.state_exists:
        print(f"no state yet at {config.state_path}: the daemon has not run")
        for line in rule_set_lines(snap):
            print(line)
        return exitcodes.OK
    for line in text_lines(snap, found):
        print(line)
    return exitcodes.OK


def _thresholds(args: argparse.Namespace, config: Config) -> Thresholds:
    """Return the judging thresholds: the options, ``--expect-daemon`` else the config's."""
    expect = args.expect_daemon
    if expect is None:
        expect = config.monitor.expect_daemon
    return Thresholds(args.warn_intervals, args.crit_intervals, expect)


def _check(args: argparse.Namespace) -> int:
    """Print the one-line verdict and the other findings; return its Nagios code."""
    config = load(args)
    limits = _thresholds(args, config)
    found = findings(take_snapshot(config, datetime.now(UTC), max(0, args.history)), limits)
    print(check_line(found))
    for finding in found[1:]:
        print(f"{finding.label}: {finding.text}")
    return verdict(found)
