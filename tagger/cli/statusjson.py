"""``tagger status --json``: the status as JSON-able data, for programs.

Pure: given a :class:`~tagger.monitor.snapshot.Snapshot` and the findings of
:mod:`tagger.monitor.checks`, returns dicts and lists of plain values (times
in ISO 8601, ages in whole seconds).
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from tagger.cli.statuscluster import cluster_json
from tagger.monitor.backlog import backlog_of, growth, latest_cycle
from tagger.monitor.checks import LEVELS, Finding, verdict
from tagger.monitor.snapshot import Snapshot
from tagger.state.rows import RunRow

__all__ = ["as_json", "backlog_json", "quota_json", "rules_json"]


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


def as_json(snap: Snapshot, found: list[Finding]) -> dict[str, Any]:
    """Return the whole status as JSON-able data."""
    daemon = snap.daemon
    reload = daemon.reload if daemon is not None else None
    return {
        "now": _time(snap.now),
        "state": str(snap.state_path),
        "backend": "postgresql" if snap.database else "sqlite",
        "database": snap.database or None,
        "state_exists": snap.state_exists,
        "lock_held": snap.lock_held,
        "cluster": cluster_json(snap.cluster, snap.cluster_error),
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
            {"rule": rule, "tag_id": tag, "tag_path": snap.tag_paths.get(tag), "applied": n}
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
