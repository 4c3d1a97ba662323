"""Merging the reports of several cycles into one report per account (pure)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TypeVar

from tagger.engine.counters import COUNTERS
from tagger.engine.figures import CycleFigures

__all__ = ["merge_reports"]

# The reports' class (a :class:`~tagger.engine.tally.CycleReport`): the merge makes more of it.
R = TypeVar("R", bound=CycleFigures)


def merge_reports(reports: Iterable[R]) -> list[R]:
    """Merge the reports of several cycles into one per account, in first-seen order.

    Given reports (e.g. one per backfill slice); returns one report per account
    whose counts, per-rule figures, entries, plan, errors and set-aside ids are
    the sums and concatenations of that account's reports, spanning from the
    first start to the last finish, interrupted if any part was. Windows and
    watermarks keep the latest value per query. The merged reports are of
    the given reports' class.
    """
    merged: dict[str, R] = {}
    for r in reports:
        m = merged.get(r.account)
        if m is None:
            m = merged[r.account] = type(r)(r.account, r.dry_run, r.started)
        m.started = min(m.started, r.started)
        if r.finished is not None:
            m.finished = r.finished if m.finished is None else max(m.finished, r.finished)
        m.windows.update(r.windows)
        m.watermarks.update(r.watermarks)
        for name, _kept_as in COUNTERS:
            setattr(m, name, getattr(m, name) + getattr(r, name))
        m.interrupted = m.interrupted or r.interrupted
        m.account_error = m.account_error or r.account_error
        m.quota_wait_s += r.quota_wait_s
        m.note_deferred(r.oldest_deferred)
        m.set_aside.extend(r.set_aside)
        m.errors.extend(r.errors)
        m.preflight.extend(r.preflight)
        m.new_pauses.extend(r.new_pauses)
        m.paused = sorted(set(m.paused) | set(r.paused))
        m.awaiting = sorted(set(m.awaiting) | set(r.awaiting))
        m.audit_mode |= r.audit_mode
        m.kill_switch = m.kill_switch or r.kill_switch
        m.entries.extend(r.entries)
        m.audited += r.audited
        m.rule_hashes.update(r.rule_hashes)
        m.plan.extend(r.plan)
        for rule_id, figures in r.rules.items():
            into = m.per_rule(rule_id)
            into.matched += figures.matched
            into.planned += figures.planned
            into.applied += figures.applied
            into.skipped += figures.skipped
            into.held += figures.held
            into.audit_only += figures.audit_only
            into.awaiting += figures.awaiting
            into.released += figures.released
            into.dropped += figures.dropped
            into.expired += figures.expired
        m.release_pending += r.release_pending
        m.held_now.update(r.held_now)
    return list(merged.values())
