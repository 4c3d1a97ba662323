"""The daemon's note beside the state file: pid, last reload, Smart Tag paths.

``<state file>.daemon.json`` is written (atomically, mode 0600) when a live
daemon starts and after every reload, so ``tagger status`` can say whether
the last reload was rejected and show tag paths, not only ids, without
calling the account. It holds no secret. A dry-run daemon writes none: a
dry run never writes beside the live state.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

import structlog

from tagger.mimecast.models import SmartTag, parse_time
from tagger.state.atomic import write_atomically

log = structlog.get_logger("tagger.service")


class _AccountTags(Protocol):
    @property
    def tags(self) -> Iterable[SmartTag]: ...


class _Runtime(Protocol):
    @property
    def accounts(self) -> Iterable[_AccountTags]: ...


@dataclass(frozen=True, slots=True)
class ReloadOutcome:
    """The last reload: when, whether it was accepted, and the problems when it was not."""

    at: datetime
    ok: bool
    problems: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class DaemonInfo:
    """What a daemon wrote about itself."""

    pid: int
    started: datetime
    config: str
    reload: ReloadOutcome | None = None
    tags: Mapping[str, str] = field(default_factory=dict)
    # When it stopped cleanly (SIGTERM, --max-cycles); None while it runs or after a crash.
    stopped: datetime | None = None


def info_path(state_path: Path) -> Path:
    """Return the daemon note's path for ``state_path``."""
    return Path(f"{state_path}.daemon.json")


def _json(info: DaemonInfo) -> dict[str, Any]:
    reload = info.reload
    return {
        "pid": info.pid,
        "started": info.started.isoformat(),
        "config": info.config,
        "reload": (
            None
            if reload is None
            else {"at": reload.at.isoformat(), "ok": reload.ok, "problems": list(reload.problems)}
        ),
        "tags": dict(info.tags),
        "stopped": info.stopped.isoformat() if info.stopped is not None else None,
    }


def write_info(state_path: Path, info: DaemonInfo) -> None:
    """Write the note atomically (0600, temporary file, fsync, rename); OSError when it cannot."""
    text = json.dumps(_json(info), indent=2, sort_keys=True)
    write_atomically(info_path(state_path), text)


def read_info(state_path: Path) -> DaemonInfo | None:
    """Return the note beside ``state_path``, or None when there is none (or it is unreadable)."""
    try:
        data = json.loads(info_path(state_path).read_text(encoding="utf-8"))
        started = parse_time(data["started"])
        if started is None:
            return None
        reload = data.get("reload")
        outcome = None
        if isinstance(reload, Mapping) and parse_time(reload.get("at")) is not None:
            at = parse_time(reload["at"])
            assert at is not None
            outcome = ReloadOutcome(at, bool(reload.get("ok")), tuple(reload.get("problems", ())))
        tags = data.get("tags") if isinstance(data.get("tags"), Mapping) else {}
        stopped = parse_time(data.get("stopped")) if data.get("stopped") else None
        return DaemonInfo(
            int(data["pid"]), started, str(data.get("config", "")), outcome, tags, stopped
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None


def note_start(state_path: Path, config: Path, started: datetime, tags: Mapping[str, str]) -> None:
    """Write the note of a daemon that just started (tags: Smart Tag id → path)."""
    write_info(state_path, DaemonInfo(os.getpid(), started, str(config), None, dict(tags)))


def note_reload(
    state_path: Path,
    at: datetime,
    ok: bool,
    problems: Sequence[str] = (),
    tags: Mapping[str, str] | None = None,
) -> None:
    """Record a reload's outcome in the note (and the new tag paths when it was accepted)."""
    old = read_info(state_path)
    base = old if old is not None else DaemonInfo(os.getpid(), at, "")
    write_info(
        state_path,
        DaemonInfo(
            os.getpid(),
            base.started,
            base.config,
            ReloadOutcome(at, ok, tuple(problems)),
            dict(tags) if tags is not None else dict(base.tags),
        ),
    )


def note_stop(state_path: Path, at: datetime, *, dry_run: bool) -> None:
    """Record in the note that the live daemon stopped cleanly at ``at``.

    ``tagger status --check`` then expects no daemon until one starts again
    (a crash leaves no such mark). Never raises: a failure is logged.
    """
    old = read_info(state_path)
    if dry_run or old is None or old.pid != os.getpid():
        return
    try:
        write_info(state_path, replace(old, stopped=at))
    except OSError as exc:
        log.warning("daemon_note_failed", path=str(info_path(state_path)), error=str(exc))


def note_daemon(
    state_path: Path,
    config_path: Path,
    runtime: _Runtime | None,
    at: datetime,
    *,
    dry_run: bool,
    reload_ok: bool | None = None,
    problems: Sequence[str] = (),
) -> None:
    """Keep the note of a live daemon: at start (``reload_ok`` None) or after a reload.

    ``runtime`` gives the Smart Tags' paths (None keeps those noted before).
    A dry-run daemon writes nothing. Never raises: a note that cannot be
    written is logged (``daemon_note_failed``) and the daemon goes on.
    """
    if dry_run:
        return
    tags = (
        {t.id: t.path for acct in runtime.accounts for t in acct.tags}
        if runtime is not None
        else None
    )
    try:
        if reload_ok is None:
            note_start(state_path, config_path, at, tags or {})
        else:
            note_reload(state_path, at, reload_ok, problems, tags)
    except OSError as exc:
        log.warning("daemon_note_failed", path=str(info_path(state_path)), error=str(exc))
