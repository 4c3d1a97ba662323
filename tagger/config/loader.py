"""Load ``config.yaml``: schema first, then values, paths, secrets and cross-checks.

Every problem in the file is reported at once, each located at its
``file:line:column``. The only I/O is reading the file itself, secret files,
and listing rule files.
"""

from __future__ import annotations

import ipaddress
import json
import os
import stat
from collections.abc import Mapping
from datetime import timedelta
from functools import cache
from importlib import resources
from pathlib import Path
from typing import Any

import structlog

from tagger.config.accounts import DEFAULT_CONCURRENCY, build_accounts, limits_of
from tagger.config.durations import DurationError, format_duration, parse_duration
from tagger.config.lists import build_lists
from tagger.config.model import (
    DEFAULT_STATE_PATH,
    AuditRotation,
    ClusterConfig,
    Config,
    LoggingConfig,
    MetricsConfig,
    MonitorConfig,
    ScheduleConfig,
    WindowConfig,
)
from tagger.config.notify import build_notify
from tagger.config.rulepaths import expand_rule_paths
from tagger.config.statebackend import build_state
from tagger.config.statedir import resolve_path, state_directory
from tagger.errors import UserError, raise_if_errors
from tagger.mimecast.retention import beyond_tracking, retention_note
from tagger.rails.budget import Limits
from tagger.yamldoc.problems import PathLike, Problems
from tagger.yamldoc.schema import schema_problems
from tagger.yamldoc.source import load_yaml_file

__all__ = ["DEFAULT_CONFIG_PATH", "config_schema", "default_config_path", "load_config"]

DEFAULT_CONFIG_PATH = Path("/etc/tagger/config.yaml")
AUDIT_FILE_NAME = "tagger-audit.jsonl"
# What a new rule does until it is promoted (``tagger promote``).
DEFAULT_ROLLOUT = "audit-first"
_SUMMARY = "invalid configuration"
_log = structlog.get_logger(__name__)


@cache
def _schema_text() -> str:
    return resources.files("tagger.config").joinpath("config.schema.json").read_text("utf-8")


def config_schema() -> dict[str, Any]:
    """Return (a fresh copy of) the JSON Schema shipped for ``config.yaml``."""
    schema: dict[str, Any] = json.loads(_schema_text())
    return schema


def default_config_path(env: Mapping[str, str] | None = None, given: str | None = None) -> Path:
    """Return the config file: ``given`` (``-c``), else ``$TAGGER_CONFIG``, else the default."""
    if given:
        return Path(given)
    found = (os.environ if env is None else env).get("TAGGER_CONFIG")
    return Path(found) if found else DEFAULT_CONFIG_PATH


def load_config(path: Path, *, env: Mapping[str, str] | None = None) -> Config:
    """Read, validate and build the configuration in ``path``.

    ``env`` supplies environment variables for ``{env: VAR}`` secrets and
    ``CREDENTIALS_DIRECTORY`` (default: the process environment). Returns the
    :class:`Config`, whose ``warnings`` hold non-fatal problems. Raises
    :class:`UserError` listing every problem when the file is unreadable or
    invalid.
    """
    environment = os.environ if env is None else env
    if not _exists(path):
        raise _missing(path, environment)
    doc = load_yaml_file(path)
    if doc.data is None:
        raise UserError.single("the configuration file is empty", file=doc.file)
    out = Problems(doc, schema_problems(doc, config_schema()))
    raise_if_errors(out.problems, _SUMMARY)
    data: dict[str, Any] = doc.data
    base_dir = path.parent
    accounts, inline = build_accounts(
        data["accounts"],
        out,
        base_dir=base_dir,
        env=environment,
        default_concurrency=data.get("concurrency", DEFAULT_CONCURRENCY),
    )
    rule_paths = expand_rule_paths(data["rules"], ("rules",), out, base_dir)
    lists = build_lists(data.get("lists", {}), out, base_dir)
    schedule = _schedule(data.get("schedule", {}), out)
    window = _window(data.get("window", {}), out)
    metrics = _metrics(data.get("metrics", {}), out)
    monitor = _monitor(data.get("monitor", {}), schedule, out)
    cluster = _cluster(data.get("cluster", {}), out)
    notify = build_notify(
        data.get("notify", []), out, base_dir=base_dir, env=environment, inline=inline
    )
    state = build_state(
        data.get("state", {}), out, base_dir=base_dir, env=environment, inline=inline
    )
    if inline:
        _warn_if_exposed(path, inline, out)
    raise_if_errors(out.problems, _SUMMARY)
    return Config(
        accounts=accounts,
        rule_paths=rule_paths,
        state_path=_path(data, "state_path", base_dir, environment)
        or state_directory(environment) / DEFAULT_STATE_PATH.name,
        state=state,
        schedule=schedule,
        window=window,
        max_failures=data.get("max_failures", 5),
        dry_run=data.get("dry_run", False),
        strict_tags=data.get("strict_tags", False),
        limits=limits_of(data.get("limits", {}), Limits()),
        rollout=data.get("rollout", DEFAULT_ROLLOUT),
        audit_path=_audit_path(data.get("audit", {}), base_dir, environment),
        logging=LoggingConfig(**data.get("logging", {})),
        metrics=metrics,
        monitor=monitor,
        cluster=cluster,
        notify=notify,
        lists=lists,
        source=path,
        warnings=tuple(p for p in out.problems if p.severity == "warning"),
        audit_rotation=_audit_rotation(data.get("audit", {})),
    )


def _exists(path: Path) -> bool:
    """Return whether ``path`` exists (an unreadable one does: its error says why)."""
    try:
        path.stat()
    except FileNotFoundError:
        return False
    except (OSError, ValueError):
        return True
    return True


def _missing(path: Path, env: Mapping[str, str]) -> UserError:
    """Return the error for a config file that does not exist: how it was named, the fixes."""
    if env.get("TAGGER_CONFIG") == str(path):
        via = "named by $TAGGER_CONFIG"
    elif path == DEFAULT_CONFIG_PATH:
        via = "the default, as neither -c nor $TAGGER_CONFIG names one"
    else:
        via = "named by -c"
    return UserError.single(
        f"no configuration file here ({via})",
        file=str(path),
        hint=f"give one with -c FILE or $TAGGER_CONFIG, or write a starter config with"
        f" `tagger init {path.parent}`",
    )


def _path(
    section: Mapping[str, Any], key: str, base_dir: Path, env: Mapping[str, str]
) -> Path | None:
    """Return ``section[key]`` as a path (see :func:`resolve_path`); None if absent."""
    return resolve_path(section[key], base_dir=base_dir, env=env) if key in section else None


def _audit_path(section: Mapping[str, Any], base_dir: Path, env: Mapping[str, str]) -> Path | None:
    """Return the audit report file; a directory (or a path ending in /) gets a default name."""
    path = _path(section, "path", base_dir, env)
    if path is None:
        return None
    given = section["path"]
    text = str(given["state_directory"] if isinstance(given, Mapping) else given)
    try:
        is_dir = text.endswith(("/", os.sep)) or path.is_dir()
    except (OSError, ValueError):
        is_dir = False
    return path / AUDIT_FILE_NAME if is_dir else path


def _audit_rotation(section: Mapping[str, Any]) -> AuditRotation:
    """Return the audit report's rotation (``max_bytes``, ``keep``; the schema checked them)."""
    default = AuditRotation()
    return AuditRotation(
        max_bytes=_byte_size(section.get("max_bytes", default.max_bytes)),
        keep=int(section.get("keep", default.keep)),
    )


_SIZE_UNITS = {"": 1, "b": 1, "kb": 1000, "mb": 1000**2, "gb": 1000**3}
_SIZE_UNITS.update({"kib": 1024, "mib": 1024**2, "gib": 1024**3})


def _byte_size(value: Any) -> int:
    """Return a size given as bytes (an integer) or text such as ``100MB`` or ``64 MiB``."""
    if isinstance(value, int):
        return value
    text = str(value).strip().lower()
    digits = text.rstrip("kmgib ").strip()
    return int(digits) * _SIZE_UNITS[text[len(digits) :].strip()]


def _durations(
    section: Mapping[str, Any], where: str, defaults: Mapping[str, timedelta], out: Problems
) -> dict[str, timedelta]:
    """Parse the duration fields of one section, reporting bad values at their position."""
    values = dict(defaults)
    for key in defaults:
        if key in section:
            try:
                values[key] = parse_duration(section[key])
            except DurationError as exc:
                out.add((where, key), str(exc), at_value=True)
    return values


def _schedule(section: Mapping[str, Any], out: Problems) -> ScheduleConfig:
    """Build the schedule; the interval must be positive and longer than the jitter."""
    defaults = {k: v for k, v in vars(ScheduleConfig()).items() if isinstance(v, timedelta)}
    values = _durations(section, "schedule", defaults, out)
    if values["interval"] <= timedelta(0):
        out.add(("schedule", "interval"), "interval must be longer than 0s", at_value=True)
    elif values["jitter"] >= values["interval"]:
        out.add(("schedule", "jitter"), "jitter must be shorter than interval", at_value=True)
    max_cycle = _durations(section, "schedule", {"max_cycle": timedelta(0)}, out)["max_cycle"]
    if "max_cycle" in section and max_cycle <= timedelta(0):
        out.add(
            ("schedule", "max_cycle"),
            f"max_cycle must be longer than 0s (got {section['max_cycle']!r})",
            "leave it out to bound each cycle by the interval",
            at_value=True,
        )
    return ScheduleConfig(**values, max_cycle=max_cycle if "max_cycle" in section else None)


def _window(section: Mapping[str, Any], out: Problems) -> WindowConfig:
    """Build the window settings; the smallest split must be positive.

    A first-start look-back longer than Mimecast keeps tracking data is a warning.
    """
    defaults = {k: v for k, v in vars(WindowConfig()).items() if isinstance(v, timedelta)}
    values = _durations(section, "window", defaults, out)
    if values["split_min"] <= timedelta(0):
        out.add(("window", "split_min"), "split_min must be longer than 0s", at_value=True)
    if beyond_tracking(values["initial_lookback"]):
        out.add(
            ("window", "initial_lookback"),
            retention_note("initial_lookback", values["initial_lookback"]),
            severity="warning",
            at_value=True,
        )
    return WindowConfig(**values, search_cap=section.get("search_cap", WindowConfig.search_cap))


def _monitor(section: Mapping[str, Any], schedule: ScheduleConfig, out: Problems) -> MonitorConfig:
    """Build the monitoring settings; the backlog's span must hold more than one interval.

    Given the ``monitor`` section and the schedule built from the same file;
    returns the settings, adding a problem located at the value to ``out``
    when the span is not longer than ``schedule.interval`` (a backlog is
    judged across several cycles).
    """
    default = MonitorConfig()
    spans = {"backlog_warn_after": default.backlog_warn_after}
    span = _durations(section, "monitor", spans, out)["backlog_warn_after"]
    if "backlog_warn_after" in section and span <= schedule.interval:
        out.add(
            ("monitor", "backlog_warn_after"),
            f"backlog_warn_after must be longer than schedule.interval"
            f" ({format_duration(schedule.interval)}), got {section['backlog_warn_after']!r}",
            "a backlog is judged across several cycles: give a span of a few intervals, e.g. 2h",
            at_value=True,
        )
    expect = section.get("expect_daemon", "auto")
    return MonitorConfig(
        backlog_warn_after=span, expect_daemon=None if expect == "auto" else bool(expect)
    )


def _cluster(section: Mapping[str, Any], out: Problems) -> ClusterConfig:
    """Build the cluster settings; renewals must fit three times in a lease.

    Given the ``cluster`` section; returns the settings, adding a problem
    located at ``renew`` to ``out`` when a lease would expire after fewer than
    three missed renewals (one slow round would then lose accounts).
    """
    default = ClusterConfig()
    spans = _durations(section, "cluster", {"lease": default.lease, "renew": default.renew}, out)
    if spans["renew"] * 3 > spans["lease"]:
        out.add(
            ("cluster", "renew" if "renew" in section else "lease"),
            f"cluster.renew ({format_duration(spans['renew'])}) must fit three times in"
            f" cluster.lease ({format_duration(spans['lease'])})",
            "a node renews its leases every `renew`; give e.g. lease: 20s, renew: 5s",
            at_value=True,
        )
    return ClusterConfig(node=section.get("node"), lease=spans["lease"], renew=spans["renew"])


def _metrics(section: Mapping[str, Any], out: Problems) -> MetricsConfig:
    """Build the metrics settings; a host that is not loopback needs ``allow_remote``.

    Checked here, not when the listener starts, so ``validate`` and every
    other command refuse the same file ``run`` would.
    """
    metrics = MetricsConfig(**section)
    if metrics.enabled and not metrics.allow_remote and not is_loopback(metrics.host):
        out.add(
            ("metrics", "host"),
            f"metrics listener on {metrics.host} would be reachable from other machines and"
            " has no authentication",
            hint="listen on 127.0.0.1, or set metrics.allow_remote: true behind a firewall",
            at_value=True,
        )
    return metrics


def is_loopback(host: str) -> bool:
    """Return True when ``host`` is a loopback address or ``localhost``. Pure."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def _warn_if_exposed(path: Path, inline: list[PathLike], out: Problems) -> None:
    """Warn when a file holding inline secrets can be read by group or others."""
    try:
        mode = stat.S_IMODE(path.stat().st_mode)
    except OSError:
        return
    if not mode & 0o077:
        return
    _log.warning("config_inline_secret_readable", file=str(path), mode=f"{mode:04o}")
    for where in inline:
        out.add(
            where,
            f"inline secret in a file readable by group or others (mode {mode:04o})",
            severity="warning",
            hint=f"chmod 600 {path}, or use {{env: VAR}}, {{file: path}} or {{credential: name}}",
            at_value=True,
        )
