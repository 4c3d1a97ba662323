"""The safety rails of one account's cycle, put together from the config (I/O at the edges).

:func:`prepare` runs before the cycle's first apply: the preflight checks
(audit sink, tags of enforcing rules, state, clock) and the guard (modes,
budget, pauses, kill switch). :func:`record` keeps each rule's figures of the
cycle for the trailing averages. A failed preflight applies nothing: the
cycle does not run, its report carries the problems and the run is failed.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from functools import partial

import structlog

from tagger.audit.files import open_private
from tagger.audit.journal import Journal
from tagger.audit.writer import audit_file
from tagger.config import Config
from tagger.engine.guard import Guard, build_guard
from tagger.engine.ledger import Ledger
from tagger.engine.sends import Sends
from tagger.engine.tally import CycleReport
from tagger.rails.budget import Limits
from tagger.rails.preflight import audit_sink_problems, clock_problems, tag_problems
from tagger.rules import RuleSet
from tagger.state.railstore import RuleCycleRow

log = structlog.get_logger("tagger.engine")


class PreflightFailed(Exception):
    """Something the cycle's applies depend on is broken; nothing was applied."""

    def __init__(self, account: str, problems: list[str]) -> None:
        super().__init__(f"preflight failed, nothing applied: {'; '.join(problems)}")
        self.account = account
        self.problems = problems


def account_limits(config: Config, account: str) -> Limits:
    """Return the limits of ``account``: its own ``limits`` over the top-level ones."""
    limits: Limits = getattr(config, "limits", Limits())
    own = getattr(_account(config, account), "limits", None)
    return own if isinstance(own, Limits) else limits


def _account(config: Config, name: str) -> object | None:
    try:
        return config.account(name)
    except KeyError:
        return None


def prepare(
    config: Config,
    ruleset: RuleSet,
    ledger: Ledger,
    tag_ids: dict[str, str],
    server_date: str | None,
    now: Callable[[], datetime],
    sends: Sends | None = None,
) -> Guard:
    """Return the account's guard for this cycle; raises :class:`PreflightFailed` first.

    The preflight runs in live cycles only (a dry run applies nothing). Given
    the config, the rule set, the account's ledger and tag ids, the last
    ``Date`` header the server sent, and the process's tracker of sends under
    way. A live cycle with an audit file writes each apply's record ahead of it.
    """
    at = now()
    acct = _account(config, ledger.account)
    enabled = bool(getattr(acct, "enabled", True))
    live_audit = None if ledger.dry_run else config.audit_path
    guard = build_guard(
        ledger,
        ruleset.rules,
        account_limits(config, ledger.account),
        getattr(config, "rollout", "enforce"),
        at,
        enabled=enabled,
        sends=sends,
        journal=(
            None
            if live_audit is None
            else Journal(audit_file(live_audit, False), getattr(config, "audit_rotation", None))
        ),
    )
    if ledger.dry_run:
        return guard
    if getattr(config, "rollout", "enforce") == "enforce":
        ledger.note_enforcing(
            ((r.id, r.content_hash) for r in ruleset.rules if r.mode == "enforce"),
            at,
            own=bool(getattr(acct, "rule_paths", ())),
        )
    problems: list[str] = []
    if config.audit_path is not None:
        sink = audit_file(config.audit_path, False)
        problems += audit_sink_problems(sink, partial(open_private, append=True))
    enforcing = {r.id: r.tags for r in ruleset.rules if guard.mode(r.id, r.mode) == "enforce"}
    problems += tag_problems(enforcing, tag_ids)
    problems += ledger.check_state(at)
    problems += clock_problems(server_date, at)
    if problems:
        for problem in problems:
            log.error("preflight_failed", account=ledger.account, error=problem)
        raise PreflightFailed(ledger.account, problems)
    return guard


def record(ledger: Ledger, guard: Guard | None, report: CycleReport, at: datetime) -> None:
    """Keep each rule's matches, applies and audit-only matches of the cycle; note pauses."""
    rows = [
        RuleCycleRow(rule_id, f.matched, f.applied, f.audit_only)
        for rule_id, f in report.rules.items()
    ]
    ledger.record_rule_cycle(rows, at)
    if guard is not None:
        report.paused = sorted(guard.budget.paused)
        report.new_pauses = [p.message() for p in guard.new_pauses]
        report.awaiting = sorted(guard.awaiting)
        report.kill_switch = guard.stopped()
