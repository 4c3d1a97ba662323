"""``tagger status`` for people: the text lines, from a snapshot and the findings judged on it.

Pure: given a :class:`~tagger.monitor.snapshot.Snapshot` (with its ``now``)
and the findings of :mod:`tagger.monitor.checks`, returns lines; printing
them is :mod:`tagger.cli.status`'s.
"""

from __future__ import annotations

from datetime import datetime

from tagger.cli.statuscluster import cluster_lines
from tagger.monitor.backlog import backlog_of, growth, latest_cycle
from tagger.monitor.checks import LEVELS, Finding, human, verdict
from tagger.monitor.snapshot import Snapshot
from tagger.state.rows import RunRow
from tagger.words import plural

__all__ = ["backlog_line", "criteria_text", "quota_lines", "rule_set_lines", "text_lines"]


def _ago(value: datetime | None, now: datetime) -> str:
    """Return ``value`` and how long ago it was, for humans."""
    if value is None:
        return "never"
    seconds = int((now - value).total_seconds())
    return f"{value:%Y-%m-%d %H:%M:%S}Z ({seconds // 3600}h{seconds % 3600 // 60:02d}m ago)"


def criteria_text(key: str) -> str:
    """Return a query key with its unset criteria left out (``route=inbound; attachments=True``)."""
    parts = [p for p in key.split(";") if p.partition("=")[2] not in ("", "None")]
    return "; ".join(parts) or "all mail"


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
    lines = [
        f"state: postgresql {snap.database} (node directory {snap.state_path.parent})"
        if snap.database
        else f"state: {snap.state_path}"
    ]
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
    lines.extend(cluster_lines(snap.cluster, snap.cluster_error))
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
        lines.append(f"watermark {account} [{criteria_text(key)}]: {_ago(mark, now)}")
    if snap.tags_per_rule:
        lines.append("tags applied per rule:")
        for (rule_id, tag_id), count in sorted(snap.tags_per_rule.items()):
            path = snap.tag_paths.get(tag_id) or "(path unknown)"
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
