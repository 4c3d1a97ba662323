"""The loaded configuration: immutable data, secrets kept out of every repr."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Literal

from tagger.config.lists import ListSpec
from tagger.config.notify import NotifyTarget
from tagger.errors import Problem
from tagger.mimecast.settings import AccountSettings, OAuthCredentials
from tagger.rails.budget import Limits
from tagger.rails.rollout import Rollout
from tagger.state.target import StateBackend

__all__ = [
    "DEFAULT_STATE_PATH",
    "AccountConfig",
    "AuditRotation",
    "Config",
    "LoggingConfig",
    "MetricsConfig",
    "MonitorConfig",
    "ScheduleConfig",
    "WindowConfig",
]

# Under systemd: $STATE_DIRECTORY/state.db (see tagger.config.statedir).
DEFAULT_STATE_PATH = Path("/var/lib/tagger/state.db")

LogFormat = Literal["auto", "json", "console"]
SearchScopeMode = Literal["auto", "domains"]
RulesMode = Literal["add", "replace"]
LogLevel = Literal["debug", "info", "warning", "error"]


@dataclass(frozen=True)
class AccountConfig:
    """One Mimecast account: its name, the client settings built from the file, and its domains.

    ``domains`` are the organisation's own mail domains (lower case);
    ``search_scope`` says when searches without from/to/subject/senderIP/
    messageId are scoped by them: ``auto`` once the service refuses a search
    by time window alone, ``domains`` always. The credentials inside
    ``settings`` print redacted.
    """

    name: str
    settings: AccountSettings
    domains: tuple[str, ...] = ()
    search_scope: SearchScopeMode = "auto"
    limits: Limits | None = None
    enabled: bool = True
    # The account's own rule files (``accounts[].rules``), expanded like the
    # top-level ones; ``rules_mode`` says whether they are added to the
    # top-level rules for this account or replace them.
    rule_paths: tuple[Path, ...] = ()
    rules_mode: RulesMode = "add"

    def secret_values(self) -> tuple[str, ...]:
        """Return the secret credential values (for the log redactor; never print them)."""
        creds = self.settings.credentials
        if isinstance(creds, OAuthCredentials):
            return (creds.client_secret,)
        return (creds.access_key, creds.secret_key, creds.app_key)


@dataclass(frozen=True)
class ScheduleConfig:
    """When cycles start: every ``interval`` plus up to ``jitter``.

    ``max_cycle`` bounds one cycle of the daemon (None: the interval): work the
    API quota has no turn for by then is deferred to the next cycle.
    """

    interval: timedelta = timedelta(minutes=5)
    jitter: timedelta = timedelta(seconds=30)
    misfire_grace: timedelta = timedelta(minutes=10)
    max_cycle: timedelta | None = None

    @property
    def cycle_bound(self) -> timedelta:
        """Return how long one cycle of the daemon may run: ``max_cycle``, else the interval."""
        return self.max_cycle if self.max_cycle is not None else self.interval


@dataclass(frozen=True)
class WindowConfig:
    """How each cycle's search window is planned.

    ``search_cap`` is the result cap the operator expects. Truncation is
    judged from the answers, never from it (the real cap is learned per
    account); a learned cap that differs from it is logged as a warning.
    """

    overlap: timedelta = timedelta(minutes=10)
    ingestion_delay: timedelta = timedelta(minutes=2)
    initial_lookback: timedelta = timedelta(hours=24)
    max_catchup: timedelta = timedelta(days=7)
    split_min: timedelta = timedelta(minutes=1)
    search_cap: int = 500


@dataclass(frozen=True)
class LoggingConfig:
    """Log format (``auto`` = console on a terminal, else JSON) and level."""

    format: LogFormat = "auto"
    level: LogLevel = "info"


@dataclass(frozen=True)
class MetricsConfig:
    """The optional Prometheus listener (``allow_remote``: a host that is not loopback)."""

    enabled: bool = False
    host: str = "127.0.0.1"
    port: int = 9464
    allow_remote: bool = False


@dataclass(frozen=True)
class MonitorConfig:
    """How ``tagger status --check`` judges the state.

    ``backlog_warn_after`` is the span across which an account's backlog of
    work deferred by the quota must have grown before it is a warning.
    ``expect_daemon``: whether a daemon must hold the lock (None: auto, see
    :mod:`tagger.monitor.checks`).
    """

    backlog_warn_after: timedelta = timedelta(hours=2)
    expect_daemon: bool | None = None


@dataclass(frozen=True)
class ClusterConfig:
    """How this node shares a PostgreSQL ledger with others (see docs/cluster.md).

    ``node`` names this node (None: the host name; ``TAGGER_NODE`` wins);
    ``lease`` is how long an account's lease lasts without renewal (judged by
    the database's clock); ``renew`` the period of heartbeats, renewals and
    balancing.
    """

    node: str | None = None
    lease: timedelta = timedelta(seconds=20)
    renew: timedelta = timedelta(seconds=5)


@dataclass(frozen=True)
class AuditRotation:
    """When the audit report rotates: past ``max_bytes`` (0: never), keeping ``keep`` old files."""

    max_bytes: int = 100 * 1024 * 1024
    keep: int = 10


@dataclass(frozen=True)
class Config:
    """Everything ``config.yaml`` says, validated, with paths made absolute.

    ``source`` is the file it was loaded from; ``warnings`` holds problems of
    severity ``warning`` found while loading (the caller decides how to show
    them).
    """

    accounts: tuple[AccountConfig, ...]
    rule_paths: tuple[Path, ...]
    state_path: Path
    schedule: ScheduleConfig
    window: WindowConfig
    max_failures: int
    dry_run: bool
    audit_path: Path | None
    logging: LoggingConfig
    metrics: MetricsConfig
    source: Path
    warnings: tuple[Problem, ...] = ()
    audit_rotation: AuditRotation = AuditRotation()
    strict_tags: bool = False
    limits: Limits = field(default_factory=Limits)
    rollout: Rollout = "audit-first"
    monitor: MonitorConfig = MonitorConfig()
    cluster: ClusterConfig = ClusterConfig()
    # Webhooks (tagger.config.notify); their URLs are secrets.
    notify: tuple[NotifyTarget, ...] = ()
    # Shared lists rules test with ``in_list`` (declarations; the files are read with the rules).
    lists: tuple[ListSpec, ...] = ()
    # The ledger's backend (``state:``): SQLite at state_path unless it says postgresql.
    state: StateBackend = field(default_factory=StateBackend)

    def secret_values(self) -> tuple[str, ...]:
        """Return every secret the config holds (for the log redactor; never print them).

        The accounts' credentials, the webhook URLs and the state DSN with its password.
        """
        values = [s for account in self.accounts for s in account.secret_values()]
        values += [target.url for target in self.notify]
        values += self.state.secret_values()
        return tuple(values)

    def account_rule_paths(self, name: str) -> tuple[Path, ...]:
        """Return the rule files account ``name`` runs, in load order.

        The top-level rules, then the account's own (``rules_mode: add``), or
        only its own (``replace``). Raises ``KeyError`` for an unknown account.
        """
        account = self.account(name)
        if account.rules_mode == "replace" and account.rule_paths:
            return account.rule_paths
        return tuple(dict.fromkeys((*self.rule_paths, *account.rule_paths)))

    @property
    def every_rule_path(self) -> tuple[Path, ...]:
        """Return every rule file the config names: the top-level ones, then the accounts' own."""
        own = (p for a in self.accounts for p in a.rule_paths)
        return tuple(dict.fromkeys((*self.rule_paths, *own)))

    @property
    def per_account_rules(self) -> bool:
        """Return whether any account names rule files of its own."""
        return any(a.rule_paths for a in self.accounts)

    def account(self, name: str) -> AccountConfig:
        """Return the account called ``name``; raises ``KeyError`` if there is none."""
        for account in self.accounts:
            if account.name == name:
                return account
        raise KeyError(name)
