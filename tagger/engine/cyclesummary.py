"""What a cycle's report says: its summary lines, log fields and what is left (pure).

Given a :class:`~tagger.engine.figures.CycleFigures`, each function returns
words or log fields; none changes the report.
"""

from __future__ import annotations

from typing import Any

from tagger.engine.figures import CycleFigures
from tagger.words import plural

__all__ = [
    "held_note",
    "needs_operator",
    "quota_note",
    "rule_fields",
    "summary_fields",
    "summary_lines",
    "undone",
]


def quota_note(report: CycleFigures) -> str:
    """Return what the quota left for the next cycle, in words ("" when nothing).

    Deferred work is paced, not failed: it is no part of :func:`undone`.
    """
    if not report.quota_deferred and not report.searches_deferred:
        return ""
    parts = []
    if report.quota_deferred:
        parts.append(f"{plural(report.quota_deferred, 'message')} deferred")
    if report.searches_deferred:
        parts.append(f"{plural(report.searches_deferred, 'search')} deferred")
    about = f", about {report.quota_wait_s:.0f} s of quota" if report.quota_wait_s >= 1 else ""
    return f"quota: {', '.join(parts)}{about}; the next cycle takes them first"


def needs_operator(report: CycleFigures) -> list[str]:
    """Return what this cycle found that waits for the operator, one phrase each.

    Each one makes ``once`` and ``backfill`` exit 1
    (:func:`tagger.exitcodes.cycle_exit_code`): an account whose cycle
    could not run, a search refused for good, a message set aside, a
    window still truncated at ``split_min``, a rule paused by a limit in a
    live run, a failed preflight. Running again without a change meets them again.
    """
    out = []
    if report.account_error is not None:
        out.append("the account's cycle could not run")
    if report.search_refused:
        out.append(f"{plural(report.search_refused, 'search', 'searches')} refused for good")
    if report.set_aside:
        out.append(f"{plural(len(report.set_aside), 'message')} set aside")
    if report.saturated:
        out.append(f"{plural(report.saturated, 'window')} still truncated at window.split_min")
    if report.new_pauses and not report.dry_run:
        # A preview's pause is only reported: nothing was applied or paused.
        out.append(f"{plural(len(report.new_pauses), 'rule')} paused by a limit")
    if report.preflight:
        out.append("the preflight failed")
    return out


def undone(report: CycleFigures) -> list[str]:
    """Return what this cycle left for the next run to retry, one phrase each (empty: none).

    Undone work is a message that failed without being set aside, a query
    whose window was held back, a search that failed for now (not refused
    for good), or a stop request: the next run retries it by itself (exit 3
    when nothing needs the operator). What waits for the operator is
    :func:`needs_operator`'s.
    """
    out = []
    retried_searches = report.search_failures - report.search_refused
    if retried_searches > 0:
        out.append(f"{plural(retried_searches, 'search', 'searches')} failed")
    retried = report.failed - len(report.set_aside)
    if retried > 0:
        out.append(f"{plural(retried, 'message')} failed")
    if report.held_back:
        out.append(f"{plural(report.held_back, 'window')} held back")
    if report.interrupted:
        out.append("stopped before the end")
    return out


def summary_fields(report: CycleFigures) -> dict[str, Any]:
    """Return the account's figures as log fields (the ``cycle_summary`` event)."""
    fields: dict[str, Any] = {
        "account": report.account,
        "dry_run": report.dry_run,
        "searches": report.search_calls,
        "found": report.messages_found,
        "scanned": report.scanned,
        "already_processed": report.already_processed,
        "info_calls": report.info_calls,
        "matched": report.matched,
        "planned": report.planned,
        "applied": report.applied,
        "audit_only": sum(f.audit_only for f in report.rules.values()),
        "awaiting_promotion": sum(f.awaiting for f in report.rules.values()),
        "held_by_rails": sum(f.held for f in report.rules.values()),
        "released": sum(f.released for f in report.rules.values()),
        "held_pairs": sum(p for _, p in report.held_now.values()),
        "failed": report.failed,
        "window_splits": report.window_splits,
        "set_aside": len(report.set_aside),
        "interrupted": report.interrupted,
    }
    if report.quota_deferred or report.searches_deferred:
        fields["quota_deferred"] = report.quota_deferred
        fields["searches_deferred"] = report.searches_deferred
        fields["quota_wait_s"] = round(report.quota_wait_s)
    left = undone(report)
    if left:
        fields["incomplete"] = left
    attention = needs_operator(report)
    if attention:
        fields["needs_attention"] = attention
    if report.saturated:
        fields["saturated_windows"] = report.saturated
    return fields


def rule_fields(report: CycleFigures) -> list[dict[str, Any]]:
    """Return one set of log fields per rule (the ``rule_summary`` events), by rule id."""
    return [
        {
            "account": report.account,
            "rule": rule_id,
            "matched": f.matched,
            "planned": f.planned,
            "applied": f.applied,
            "audit_only": f.audit_only,
            "would_apply_once_promoted": f.awaiting,
            "held": f.held,
            "released": f.released,
            "held_pairs": sum(p for (r, _), (_, p) in report.held_now.items() if r == rule_id),
            "paused": rule_id in report.paused,
            "awaiting_promotion": rule_id in report.awaiting,
            "already_present": f.skipped,
        }
        for rule_id, f in sorted(report.rules.items())
    ]


def held_note(report: CycleFigures, rule_id: str) -> str:
    """Return the rule's open held pairs in words ("" when none)."""
    mine = [v for (r, _), v in report.held_now.items() if r == rule_id]
    if not mine:
        return ""
    messages, pairs = sum(m for m, _ in mine), sum(p for _, p in mine)
    return f" ({messages} messages, {pairs} tags held in all)"


def summary_lines(report: CycleFigures) -> list[str]:
    """Return the human summary: one line for the account and one per rule."""
    verb = "would apply" if report.dry_run else "applied"
    audit_only = sum(f.audit_only for f in report.rules.values())
    awaiting = sum(f.awaiting for f in report.rules.values())
    held = sum(f.held for f in report.rules.values())
    released = sum(f.released for f in report.rules.values())
    applied = report.planned - audit_only - awaiting if report.dry_run else report.applied
    lines = [
        f"account {report.account}: {report.messages_found} found, {report.scanned} scanned, "
        f"{report.already_processed} already processed, {report.info_calls} info calls, "
        f"{report.matched} matched, {plural(applied, 'tag')} {verb}, {audit_only} audit-only,"
        f" {report.failed} failed"
        + (f", {awaiting} would apply once promoted" if awaiting else "")
        + (f", {held} held by rails" if held else "")
        + (f", {released} held pairs released" if released else "")
        + (
            f", {report.release_pending} held pairs released by the next live cycle"
            if report.release_pending
            else ""
        )
        + (f", {report.window_splits} window splits" if report.window_splits else "")
        + (f", {len(report.set_aside)} set aside" if report.set_aside else "")
        + (", interrupted" if report.interrupted else "")
    ]
    for rule_id in sorted(report.rules):
        f = report.rules[rule_id]
        count = f.planned - f.audit_only - f.awaiting if report.dry_run else f.applied
        state = (
            " [paused]"
            if rule_id in report.paused
            else " [audit-only: awaiting promotion]"
            if rule_id in report.awaiting
            else " [audit-only: mode audit]"
            if rule_id in report.audit_mode
            else ""
        )
        lines.append(
            f"  rule {rule_id}{state}: {f.matched} matched, {plural(count, 'tag')} {verb}, "
            f"{f.audit_only} audit-only, {f.skipped} already present"
            + (f", would apply {f.awaiting} once promoted" if f.awaiting else "")
            + (f", {f.held} held" if f.held else "")
            + (f", {f.released} released" if f.released else "")
            + (f", {f.dropped} held pairs dropped" if f.dropped else "")
            + (f", {f.expired} held pairs expired" if f.expired else "")
            + held_note(report, rule_id)
        )
    for problem in report.preflight:
        lines.append(f"  preflight failed (nothing applied): {problem}")
    for message in report.new_pauses:
        lines.append(f"  {message}")
    if report.kill_switch:
        lines.append("  every apply is paused (tagger pause --all, or enabled: false)")
    if quota_note(report):
        lines.append(f"  {quota_note(report)}")
    attention = needs_operator(report)
    if attention:
        lines.append(f"  needs attention: {'; '.join(attention)} (see the errors)")
    left = undone(report)
    if left:
        lines.append(f"  incomplete: {'; '.join(left)}; the next run retries")
    if report.saturated:
        lines.append(
            f"  possibly incomplete: {plural(report.saturated, 'window')} still truncated at"
            " window.split_min; lower split_min (or narrow the rules' searches)"
        )
    return lines
