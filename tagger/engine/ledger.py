"""The ledger: one account's exactly-once record under one rule set, for one cycle.

It (with the records it builds on, :mod:`tagger.engine.accountbook`: the
rails, the learned search cap, backfill cursors) is the only caller of the
state API. Everything that makes a Smart Tag land exactly once lives here:

- **runs**: :meth:`Ledger.begin` records the start of a cycle and detects a
  previous run that was cut off (killed, crashed, interrupted, stopped by an
  account-level error): its last applies may have reached Mimecast without
  being recorded, so this cycle reads message info before every apply
  (:meth:`Ledger.needs_info`) and skips tags already present;
- **processed marks** per query (:meth:`judged_before`, :meth:`settle`) and
  **applied pairs** (:meth:`recorded`, :meth:`record_applied`);
- **failures**: a message that failed holds its queries' windows back; one
  that keeps failing permanently is set aside; an account-level error sets
  nothing aside, marks nothing and moves no watermark;
- **watermarks** (:meth:`window`, :meth:`advance`): never past a message that
  is neither processed nor set aside, nor left for the next cycle by the
  quota (:meth:`defer`). Retention and pruning: :mod:`tagger.engine.pruning`.

The cycle (:mod:`tagger.engine.cycle`) keeps only concurrency and ordering.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence, Set
from datetime import datetime, timedelta

import structlog

from tagger.engine.accountbook import AccountBook
from tagger.engine.candidate import AccountLevelFailure, Candidate, Failure
from tagger.engine.counters import run_counts
from tagger.engine.plan import Action
from tagger.engine.queries import not_due
from tagger.engine.tally import CycleReport
from tagger.engine.window import Window, WindowPolicy, next_watermark, plan_window
from tagger.rules import RuleSet
from tagger.state import StateStore

log = structlog.get_logger("tagger.engine")

# Statuses of a run that did not end by re-checking every apply it made.
CUT_OFF = ("interrupted", "failed", "stopped")


class Ledger(AccountBook):
    """One account's record under one rule set, for one cycle (see module docstring).

    Given the state, the account's name and the rule set. Not thread-safe:
    one cycle's tasks share one event loop.
    """

    def __init__(self, state: StateStore, account: str, ruleset: RuleSet) -> None:
        super().__init__(state, account)
        self.ruleset = ruleset
        self.verify_present = False
        self._run_id: int | None = None
        self._started: datetime | None = None
        self._held: dict[str, list[datetime]] = {}
        # Queries held back only by work deferred for the quota (not undone work).
        self._quota_only: set[str] = set()
        self._halted = False

    # -- runs ------------------------------------------------------------------

    @property
    def dry_run(self) -> bool:
        """True when the state is an in-memory copy: the run applies nothing.

        Decided once, when the session opened the state (see
        :func:`tagger.service.runtime.open_state`); every part of a cycle reads it here.
        """
        return self.state.dry_run

    def begin(self, kind: str, at: datetime, verify: bool = False) -> None:
        """Record the start of a run; after a cut-off run (or asked to), verify before applying.

        After a cut-off run the file is checked for damage first (StateDamaged).
        """
        cut_off = self.cut_off()
        if cut_off:
            self.state.check_sound()
            # The applies of a killed run were kept (recorded at once); count them in its run.
            self.state.count_cut_off_applies(self.account, at)
            log.info("previous_run_cut_off", account=self.account, check="tags already present")
        self.verify_present = cut_off or verify
        self._run_id = self.state.start_run(kind, self.account, at, self.dry_run)

    def end(self, report: CycleReport, status: str, error: str | None, at: datetime) -> None:
        """Record the end of the cycle begun by :meth:`begin` with its counts and outcome."""
        if self._run_id is not None:
            self.state.finish_run(self._run_id, at, run_counts(report), status, error)
            self._run_id = None

    def cut_off(self) -> bool:
        """Return True when the latest run of the account did not complete.

        A run left unfinished (the process was killed, or the cycle crashed) may
        have applied tags it never recorded; an interrupted one, or one that an
        account-level error stopped part-way, stopped before re-checking them.
        Also True after the state was lost, until a run of the account starts later.
        """
        mine = [r for r in self.state.last_runs() if r.account == self.account]
        if any(r.finished_at is None or r.status in CUT_OFF for r in mine):
            return True
        # A lost state (its file gone, its marker there) forgot every apply: until a
        # run of the account completes after that, each one is checked on the message.
        lost = self.state.lost_at()
        return lost is not None and all(r.started_at < lost for r in mine)

    def needs_info(self, verdict: bool | None) -> bool:
        """Return whether to read message info, given a surviving rule's pre-filter verdict.

        True when the verdict depends on info (None), and for every message
        after a cut-off run (tags already present must be seen before applying).
        """
        return verdict is None or self.verify_present

    # -- windows and watermarks ------------------------------------------------

    def start_cycle(self, at: datetime) -> None:
        """Start a cycle at ``at``: nothing is held back or halted yet."""
        self._started = at
        self._held = {}
        self._quota_only = set()
        self._halted = False

    def window(
        self, query_key: str, lookback: timedelta | None, now: datetime, policy: WindowPolicy
    ) -> Window:
        """Return the window one query searches, from its saved watermark."""
        mark = self.state.get_watermark(self.account, query_key)
        return plan_window(mark, now, policy, lookback)

    def advance(
        self,
        query_key: str,
        window: Window,
        at: datetime,
        undone: datetime | None = None,
        *,
        forward_only: bool = False,
    ) -> datetime | None:
        """Move the query's watermark over ``window``; return it (None: not moved).

        Never past a message of the query that failed this cycle and is not
        set aside (:meth:`settle` keeps them), nor past ``undone`` (the
        earliest received time of the query's messages not processed yet: a
        checkpoint in the middle of the cycle), and not at all after an
        account-level error. ``forward_only``: leave a watermark that is
        already at or past the new one as it is (a checkpoint never moves it
        back by the window's overlap).
        """
        if self._halted:
            return None
        held = self._held.get(query_key, [])
        mark = next_watermark(window, [*held, undone] if undone is not None else held)
        if forward_only:
            saved = self.state.get_watermark(self.account, query_key)
            if saved is not None and saved >= mark:
                return None
        self.state.set_watermark(self.account, query_key, mark, at)
        return mark

    def checkpoint(self, report: CycleReport, at: datetime) -> None:
        """Record the counts of the run so far, so a run cut off later still shows its work."""
        if self._run_id is not None:
            self.state.update_run_counts(self._run_id, run_counts(report))

    def held_back(self) -> int:
        """Return how many queries have messages that hold their window back.

        Work deferred for the quota (:meth:`defer`) holds windows too, but is
        not counted: it is paced, not undone.
        """
        return len(self._held.keys() - self._quota_only)

    def defer(self, candidates: Iterable[Candidate], at: datetime) -> None:
        """Leave ``candidates`` for the next cycle: the quota had no turn for them.

        Nothing is marked or counted against them; the windows of their queries
        stop short of them, so the next cycle finds them first.
        """
        started = self._started or at
        for cand in candidates:
            for key in cand.queries:
                if key not in self._held:
                    self._quota_only.add(key)
                self._held.setdefault(key, []).append(cand.summary.received or started)

    @property
    def halted(self) -> bool:
        """True once an account-level error stopped the cycle (nothing more is settled)."""
        return self._halted

    def halt(self) -> None:
        """Note an account-level error: from now on nothing is settled and no watermark moves."""
        self._halted = True

    # -- processed marks and applied pairs ---------------------------------------

    def judged_before(self, candidates: Mapping[str, Candidate]) -> set[str]:
        """Return the ids of candidates every query that found them has already judged.

        Marks are kept per query, so mail found by other queries while a query's
        search was skipped (its rule schedule not due) is still judged by that
        query's rules when it runs. Each candidate's rules are widened to those of
        every query that judged it before: evaluated together again, a
        higher-priority ``stop`` rule still holds (its tags are recorded, so they
        are not applied twice).
        """
        ids = list(candidates)
        every = self.ruleset.queries
        marked = {
            q.key: self.state.processed_ids(self.account, self._mark(q.key), ids) for q in every
        }
        rules_of = {q.key: q.rule_ids for q in every}
        done: set[str] = set()
        for mid, cand in candidates.items():
            before = {key for key, judged in marked.items() if mid in judged}
            for key in before:
                cand.rule_ids.update(rules_of[key])
            if cand.queries <= before:
                done.add(mid)
        return done

    def set_aside_ids(self) -> set[str]:
        """Return the ids of the account's messages that were set aside."""
        return self.state.set_aside_ids(self.account)

    def recorded(self, message_ids: Iterable[str]) -> set[tuple[str, str]]:
        """Return the (message, tag) pairs already recorded among ``message_ids``."""
        return self.state.applied_pairs(self.account, message_ids)

    def record_applied(self, action: Action, at: datetime) -> None:
        """Record one applied tag (durably, before anything else happens)."""
        self.state.record_applied(
            self.account,
            action.message_id,
            action.tag_id,
            rule_id=action.rule_id,
            rule_hash=action.rule_hash,
            mode=action.mode,
            at=at,
        )

    def settle(
        self,
        chunk: Sequence[Candidate],
        failures: Mapping[str, Failure],
        max_failures: int,
        report: CycleReport,
        at: datetime,
        quota_deferred: Set[str] = frozenset(),
    ) -> None:
        """Mark finished messages processed; count failures and set aside repeat offenders.

        ``quota_deferred`` holds the ids of messages the quota had no turn for
        before the cycle's bound: left for the next cycle (:meth:`defer`).

        A message with a planned tag that a rail kept from being applied is
        finished like any other: its tag is a held pair in the ledger
        (:mod:`tagger.engine.release` applies it once the rail is lifted).

        Only permanent failures (the service said retrying cannot help) count towards
        set-aside: a transient one (429 quota, 5xx, network) after the client's own
        retries holds the watermark back but never sets a message aside, so an
        outage longer than ``max_failures`` cycles loses no tag. A failed message
        holds back the window of every query that found it. Raises
        :class:`AccountLevelFailure` (writing nothing) when a failure concerns
        the whole account.
        """
        account_level = [f for f in failures.values() if f.account_level]
        if account_level:
            self.halt()
            raise AccountLevelFailure(account_level[0].error)
        if self._halted:
            return
        undone = failures.keys() | quota_deferred
        ok = [c for c in chunk if c.summary.id not in undone]
        self._mark_done(ok, at)
        started = self._started or at
        self.defer((c for c in chunk if c.summary.id in quota_deferred), at)
        for cand in chunk:
            failure = failures.get(cand.summary.id)
            if failure is not None and not self.count_failure(
                cand.summary.id, failure, max_failures, report, at
            ):
                self._hold(cand, started)

    def _mark_done(self, ok: Sequence[Candidate], at: datetime) -> None:
        """Mark ``ok`` processed for each query that found them; clear their old failures."""
        account = self.account
        received = {c.summary.id: c.summary.received for c in ok if c.summary.received is not None}
        for key in sorted({k for c in ok for k in c.queries}):
            ids = [c.summary.id for c in ok if key in c.queries]
            self.state.mark_processed(account, self._mark(key), ids, at, received)
        ok_ids = {c.summary.id for c in ok}
        failing = self.state.failures(account)
        open_failures = {f.message_id for f in failing if f.set_aside_at is None}
        for mid in sorted(open_failures & ok_ids):
            self.state.clear_failure(account, mid)
            log.info("message_recovered", account=account, message_id=mid)

    def _hold(self, cand: Candidate, started: datetime) -> None:
        """Keep the windows of every query that found ``cand`` from moving past it."""
        for key in cand.queries:
            self._quota_only.discard(key)
            self._held.setdefault(key, []).append(cand.summary.received or started)

    def count_failure(
        self,
        mid: str,
        failure: Failure,
        max_failures: int,
        report: CycleReport,
        at: datetime,
    ) -> bool:
        """Record one failure of message ``mid``; True when it was set aside (it holds none back).

        A permanent failure for the ``max_failures``-th time sets the message
        aside; a transient one never does.
        """
        account = self.account
        count = self.state.record_failure(account, mid, failure.error, at)
        report.failed += 1
        if count >= max_failures and not failure.transient:
            self.state.set_aside(account, mid, at)
            report.set_aside.append(mid)
            log.error(
                "message_set_aside",
                account=account,
                message_id=mid,
                attempts=count,
                error=failure.error,
            )
            return True
        log.warning(
            "message_failed",
            account=account,
            message_id=mid,
            attempts=count,
            transient=failure.transient,
            error=failure.error,
        )
        return False

    def clear_failures(self, message_ids: Iterable[str]) -> None:
        """Forget the open failures of ``message_ids`` (their work is done now)."""
        ids = set(message_ids)
        if not ids:
            return
        for failure in self.state.failures(self.account):
            if failure.set_aside_at is None and failure.message_id in ids:
                self.state.clear_failure(self.account, failure.message_id)
                log.info("message_recovered", account=self.account, message_id=failure.message_id)

    def _mark(self, query_key: str) -> str:
        return self.ruleset.query_mark(query_key)

    # -- query schedules ------------------------------------------------------------

    def not_due(self, interval: timedelta, now: datetime) -> frozenset[str]:
        """Return the keys of the queries whose own ``schedule`` is not due at ``now``.

        Given the configured interval; the last search of each query is kept
        in state, so a restart does not search a query again before it is due.
        """
        return not_due(self.ruleset.queries, self.state.last_searched(self.account), now, interval)

    def searched(self, query_keys: Iterable[str], at: datetime) -> None:
        """Record that the queries ``query_keys`` were searched (their windows done) at ``at``."""
        scheduled = {q.key for q in self.ruleset.queries if q.schedule is not None}
        keys = [k for k in query_keys if k in scheduled]
        if keys:
            self.state.set_searched(self.account, keys, at)
