"""Everything ``tagger status`` shows, read once (read-only; safe next to a running daemon).

Reads the state file (opened read-only, without the lock), the daemon's note
beside it, whether the lock is held, and the rule files (for each rule's
schedule and the paths of tags a daemon has not noted). Nothing here writes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence, Set
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path

from tagger.cluster.view import ClusterView
from tagger.config import Config
from tagger.errors import UserError
from tagger.monitor.clusterread import read_cluster
from tagger.monitor.daemoninfo import DaemonInfo, read_info
from tagger.monitor.lockprobe import lock_held
from tagger.monitor.quotanote import QuotaNote, read_quota
from tagger.rails.rollout import Rollout, RuleIdentity, awaiting_promotion
from tagger.rules import RuleSet
from tagger.rules.accountsets import AccountRuleSets, load_account_rule_sets
from tagger.state import StateError, StateStore
from tagger.state.errors import LedgerMissing
from tagger.state.held import HeldCount
from tagger.state.opener import open_state
from tagger.state.pausefile import pause_file_on
from tagger.state.railstore import PauseRow
from tagger.state.rows import FailureRow, RunRow

# Runs scanned for each account's last completed cycle.
SCAN_RUNS = 500


@dataclass(frozen=True)
class RuleSetInfo:
    """Which rule set an account runs: its files, its rules and how it got them.

    ``own`` is None for an account running the top-level rules, else its
    ``rules_mode`` (``add`` or ``replace``); ``awaiting`` are the ids of its
    rules awaiting promotion on it.
    """

    files: tuple[str, ...]
    rules: int
    own: str | None = None
    awaiting: tuple[str, ...] = ()


@dataclass(frozen=True)
class Snapshot:
    """What the state, the daemon's note, the lock and the rules say, at ``now``.

    ``last_completed`` maps each account to its latest live cycle that ran to
    its end (status ok or partial); ``tag_paths`` maps Smart Tag ids to
    paths where known; ``paused`` lists paused rules (see :func:`paused_rules`);
    ``awaiting`` lists the rules that audit until ``tagger promote``;
    ``pauses`` are the pauses themselves (since when, why); ``held`` the open
    held pairs per account, rule and reason (distinct messages, pairs, oldest);
    ``kill_switch`` is whether ``tagger pause --all`` is on, and ``disabled``
    lists the accounts with ``enabled: false``;
    ``rules_error`` is why the rule files do not load now (None when they do).
    ``cycles`` maps each account to its runs over the last ``backlog_span``,
    oldest first, from its last cycle started before the span on (see
    :func:`~tagger.monitor.backlog.growth`); ``catchup`` is how far back a
    cycle searches at most (older deferred mail is never searched again).
    ``quota`` is the daemon's note of each endpoint's quota use in its last
    cycle (None when no daemon wrote one).
    ``rule_sets`` says which rules each account runs (empty when they do not load).
    ``generation`` is the state's (:mod:`tagger.state.generation`) and
    ``unsure_since`` when it was last found lost or older than its marker;
    ``behind`` is (the state's, the marker's generation) while the state is
    behind its marker (the next writer to open it makes every account verify).
    """

    now: datetime
    state_path: Path
    state_exists: bool
    interval: timedelta
    ingestion_delay: timedelta
    longest_schedule: timedelta
    accounts: tuple[str, ...]
    history: tuple[RunRow, ...] = ()
    last_runs: tuple[RunRow, ...] = ()
    last_completed: Mapping[str, RunRow] = field(default_factory=dict)
    watermarks: tuple[tuple[str, str, datetime], ...] = ()
    tags_per_rule: Mapping[tuple[str, str], int] = field(default_factory=dict)
    tag_paths: Mapping[str, str] = field(default_factory=dict)
    failures: tuple[FailureRow, ...] = ()
    paused: tuple[str, ...] = ()
    awaiting: tuple[str, ...] = ()
    pauses: tuple[PauseRow, ...] = ()
    held: tuple[HeldCount, ...] = ()
    kill_switch: bool = False
    disabled: tuple[str, ...] = ()
    lock_held: bool | None = None
    daemon: DaemonInfo | None = None
    rules_error: str | None = None
    backlog_span: timedelta = timedelta(hours=2)
    catchup: timedelta = timedelta(days=7)
    cycles: Mapping[str, tuple[RunRow, ...]] = field(default_factory=dict)
    quota: QuotaNote | None = None
    # The PostgreSQL ledger as ``HOST:PORT/DBNAME`` (empty: the SQLite file at state_path).
    database: str = ""
    generation: int = 0
    unsure_since: datetime | None = None
    behind: tuple[int, int | None] | None = None
    rule_sets: Mapping[str, RuleSetInfo] = field(default_factory=dict)
    # The cluster (PostgreSQL ledger only), or why it could not be read.
    cluster: ClusterView | None = None
    cluster_error: str | None = None

    def verifying(self) -> tuple[str, ...]:
        """Return the accounts that read each message's tags before applying, for a lost state.

        Since ``unsure_since`` (the state was lost, or older than its marker:
        see :mod:`tagger.state.generation`) until a cycle of the account that
        started later has completed.
        """
        since = self.unsure_since
        if since is None:
            return ()
        done = self.last_completed
        return tuple(a for a in self.accounts if a not in done or done[a].started_at < since)


def behind_marker(
    found: tuple[int, int | None] | None, lock_held: bool | None
) -> tuple[int, int | None] | None:
    """Return the state's lag behind its marker as status should report it (None: none).

    Given what the state file says (:meth:`GenerationRecords.behind_marker`)
    and whether a process holds its lock. A cycle writes the marker one
    generation ahead before its first apply and brings the state level when
    it ends, so one generation behind while a process holds the lock is a
    cycle under way, not a copy or a restored backup. Pure.
    """
    if found is None:
        return None
    mine, theirs = found
    if lock_held and theirs == mine + 1:
        return None
    return found


def paused_rules(store: StateStore) -> tuple[str, ...]:
    """Return the ids of rules the state marks as paused.

    The hook for rule pauses (a rule stopped by a blast-radius limit until an
    operator resumes it): the state has no such record yet, so none is
    paused. When it has, read them here and ``status --check`` warns.
    """
    reader = getattr(store, "paused_rules", None)
    if callable(reader):
        return tuple(str(r) for r in reader())
    return ()


def _pauses(store: StateStore) -> list[PauseRow]:
    """Return every pause (none for a file older than the rails' schema)."""
    try:
        return store.pauses()
    except StateError:
        return []


def awaiting_rules(
    ruleset: RuleSet | None, rollout: Rollout, promoted: Set[tuple[str, str]]
) -> tuple[str, ...]:
    """Return the ids of the rules awaiting promotion (none when the rules do not load)."""
    if ruleset is None:
        return ()
    identities = [RuleIdentity(r.id, r.content_hash, r.mode) for r in ruleset.all_rules()]
    return tuple(awaiting_promotion(identities, rollout, promoted))


def _rules(config: Config) -> tuple[AccountRuleSets | None, str | None]:
    try:
        return load_account_rule_sets(config), None
    except UserError as exc:
        first = exc.errors[0] if exc.errors else None
        return None, str(first) if first is not None else exc.summary or "invalid rules"


def _every(sets: AccountRuleSets | None) -> RuleSet | None:
    """Return one rule set holding every account's rules (an id's first definition)."""
    if sets is None:
        return None
    if not sets.own:
        return sets.default
    seen = dict.fromkeys(r.id for r in sets.default.all_rules())
    extra = []
    for ruleset in sets.own.values():
        for rule in ruleset.rules:
            if rule.id not in seen:
                seen[rule.id] = None
                extra.append(rule)
    return RuleSet((*sets.default.rules, *extra), sets.default.disabled)


def rule_set_infos(
    config: Config, sets: AccountRuleSets | None, promoted: Mapping[str, Set[tuple[str, str]]]
) -> dict[str, RuleSetInfo]:
    """Return which rule set each account runs, with its rules awaiting promotion on it.

    ``promoted`` maps each account to the pairs promoted on it (an account
    missing from it: none).
    """
    if sets is None:
        return {}
    out: dict[str, RuleSetInfo] = {}
    for account in config.accounts:
        ruleset = sets.of(account.name)
        out[account.name] = RuleSetInfo(
            files=tuple(str(f) for f in sets.files[account.name]),
            rules=len(ruleset.all_rules()),
            own=account.rules_mode if account.rule_paths else None,
            awaiting=awaiting_rules(ruleset, config.rollout, promoted.get(account.name, set())),
        )
    return out


def _awaiting_anywhere(infos: Mapping[str, RuleSetInfo]) -> tuple[str, ...]:
    """Return the ids of rules awaiting promotion on any account, each once, in order."""
    return tuple(dict.fromkeys(r for info in infos.values() for r in info.awaiting))


def _single_tag_paths(ruleset: RuleSet, pairs: Mapping[tuple[str, str], int]) -> dict[str, str]:
    """Infer tag paths from rules that name one tag: every id they applied is that tag."""
    by_rule = {r.id: r.tags for r in ruleset.all_rules()}
    out: dict[str, str] = {}
    for rule_id, tag_id in pairs:
        tags = by_rule.get(rule_id, ())
        if len(tags) == 1:
            out.setdefault(tag_id, tags[0])
    return out


def _longest_schedule(ruleset: RuleSet | None) -> timedelta:
    longest = timedelta(0)
    for rule in ruleset.rules if ruleset is not None else ():
        if rule.schedule is not None:  # parsed once, when the rules were compiled
            longest = max(longest, rule.schedule)
    return longest


def span_runs(
    store: StateStore, accounts: Sequence[str], since: datetime
) -> dict[str, tuple[RunRow, ...]]:
    """Return each account's runs started at or after ``since``, after its last cycle before.

    Oldest first, as :func:`~tagger.monitor.backlog.growth` takes them; an
    account without runs maps to an empty tuple.
    """
    out: dict[str, tuple[RunRow, ...]] = {}
    for account in accounts:
        before = store.cycle_before(account, since)
        out[account] = (*([before] if before else []), *store.runs_since(account, since))
    return out


def take_snapshot(config: Config, now: datetime, history: int = 10) -> Snapshot:
    """Read everything ``status`` shows; raises StateError when the state file is unusable."""
    sets, rules_error = _rules(config)
    ruleset = _every(sets)
    infos = rule_set_infos(config, sets, {})
    on_pg = config.state.backend == "postgresql"
    cluster, cluster_error = read_cluster(config)
    base = Snapshot(
        cluster=cluster,
        cluster_error=cluster_error,
        now=now,
        state_path=config.state_path,
        state_exists=on_pg or config.state_path.exists(),
        database=config.state.where if on_pg else "",
        interval=config.schedule.interval,
        ingestion_delay=config.window.ingestion_delay,
        longest_schedule=_longest_schedule(ruleset),
        accounts=tuple(a.name for a in config.accounts),
        # PostgreSQL takes no file lock: whether a daemon runs is not known from it.
        lock_held=None if on_pg else lock_held(config.state_path),
        daemon=read_info(config.state_path),
        quota=read_quota(config.state_path),
        rules_error=rules_error,
        awaiting=_awaiting_anywhere(infos),
        rule_sets=infos,
        disabled=tuple(a.name for a in config.accounts if not a.enabled),
        kill_switch=pause_file_on(config.state_path),
        backlog_span=config.monitor.backlog_warn_after,
        catchup=max(config.window.max_catchup, config.window.initial_lookback),
    )
    if not base.state_exists:
        return base
    try:
        store = open_state(config, lock=False, readonly=True)
    except LedgerMissing:
        return replace(base, state_exists=False)
    try:
        recent = store.recent_runs(SCAN_RUNS)
        completed: dict[str, RunRow] = {}
        for run in recent:
            if not run.dry_run and run.status in ("ok", "partial"):
                completed.setdefault(run.account, run)
        pairs = store.tags_per_rule()
        promoted = {a.name: store.promotions(a.name) for a in config.accounts}
        infos = rule_set_infos(config, sets, promoted)
        paths = _single_tag_paths(ruleset, pairs) if ruleset is not None else {}
        if base.daemon is not None:
            paths.update(base.daemon.tags)
        return replace(
            base,
            history=tuple(recent[:history]),
            last_runs=tuple(store.last_runs()),
            last_completed=completed,
            watermarks=tuple(store.watermarks()),
            tags_per_rule=pairs,
            tag_paths=paths,
            failures=tuple(store.failures()),
            paused=paused_rules(store),
            pauses=tuple(_pauses(store)),
            held=tuple(store.held_counts()),
            awaiting=_awaiting_anywhere(infos),
            rule_sets=infos,
            kill_switch=store.kill_switch(),
            generation=store.generation(),
            unsure_since=store.lost_at(),
            behind=behind_marker(store.behind_marker(), base.lock_held),
            cycles=span_runs(store, base.accounts, now - base.backlog_span),
        )
    finally:
        store.close()
