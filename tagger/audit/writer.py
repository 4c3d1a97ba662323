"""The audit report: JSON Lines of every match, and a human summary per rule.

Live runs append to the configured file; dry runs never do: their entries go
to its ``.dry-run`` sibling (``audit.jsonl`` → ``audit.dry-run.jsonl``), so a
reviewer never has to tell a plan from a change. Every entry also says its
``mode`` (``live``, ``dry-run`` or ``audit`` for a rule in audit mode).
The file rotates by size: when a batch would take it past ``max_bytes`` it
becomes ``<file>.1`` (``.1`` becomes ``.2``, …, and the ``keep``-th is deleted).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol

from tagger.audit.entry import Entry
from tagger.audit.files import is_link_refusal, open_private
from tagger.config.model import AuditRotation

DRY_RUN_MARK = ".dry-run"


class Batch(Protocol):
    """The entries of one account's cycle (a :class:`~tagger.engine.tally.CycleReport`)."""

    @property
    def account(self) -> str: ...

    @property
    def dry_run(self) -> bool: ...

    @property
    def entries(self) -> Sequence[Entry]: ...


def dry_run_path(path: Path) -> Path:
    """Return where dry-run entries go for the audit file ``path``.

    ``audit.jsonl`` gives ``audit.dry-run.jsonl``; a name that already says
    ``.dry-run`` is kept as it is.
    """
    if DRY_RUN_MARK in path.name:
        return path
    suffix = path.suffix
    stem = path.name[: -len(suffix)] if suffix else path.name
    return path.with_name(f"{stem}{DRY_RUN_MARK}{suffix}")


def audit_file(path: Path, dry_run: bool) -> Path:
    """Return the file the entries of a run go to (live: ``path``; dry run: its sibling)."""
    return dry_run_path(path) if dry_run else path


def rotated_paths(path: Path, keep: int) -> list[Path]:
    """Return ``path`` and its rotated copies, newest first (those that exist)."""
    out = [path] if path.exists() else []
    for n in range(1, keep + 1):
        old = Path(f"{path}.{n}")
        if old.exists():
            out.append(old)
    return out


def rotate(path: Path, keep: int) -> None:
    """Shift ``path`` to ``path.1`` (``.1`` to ``.2``, …), deleting the ``keep``-th.

    With ``keep`` 0 the file is simply deleted. Missing files are skipped.
    """
    if keep <= 0:
        path.unlink(missing_ok=True)
        return
    Path(f"{path}.{keep}").unlink(missing_ok=True)
    for n in range(keep - 1, 0, -1):
        older = Path(f"{path}.{n}")
        if older.exists():
            older.replace(Path(f"{path}.{n + 1}"))
    if path.exists():
        path.replace(Path(f"{path}.1"))


def entry_lines(account: str, entries: Iterable[Entry]) -> list[str]:
    """Return the JSON lines of ``entries`` of ``account`` (each ends with a newline)."""
    out = []
    for entry in entries:
        record = {"account": account}
        record.update(entry.to_json())
        out.append(json.dumps(record, sort_keys=True, default=str, ensure_ascii=False) + "\n")
    return out


def _lines(reports: Iterable[Batch]) -> list[str]:
    """Return the lines of the entries of ``reports`` (those not in the file yet).

    A live cycle writes its entries as each chunk ends and lets them go
    (counted in the report's ``audited``): what is left is written here.
    """
    out = []
    for report in reports:
        out += entry_lines(report.account, report.entries)
    return out


def append_lines(path: Path, lines: list[str], rotation: AuditRotation) -> None:
    """Append ``lines`` to ``path`` (0600, fsynced), rotating it first when they would not fit."""
    path.parent.mkdir(parents=True, exist_ok=True)
    size = sum(len(line.encode("utf-8")) for line in lines)
    try:
        current = path.stat().st_size
    except FileNotFoundError:
        current = 0
    if rotation.max_bytes and current and current + size > rotation.max_bytes:
        rotate(path, rotation.keep)
    fd = open_private(path, append=True)
    with os.fdopen(fd, "a", encoding="utf-8") as out:
        out.writelines(lines)
        out.flush()
        os.fsync(out.fileno())


def write_entries(
    path: Path, reports: Iterable[Batch], rotation: AuditRotation | None = None
) -> int:
    """Append one JSON line per rule match of ``reports`` not written yet; returns how many.

    The entries a live cycle already wrote as each chunk ended (the first
    ``audited`` of a report) are not written again.

    Given the configured (or ``--audit``) file: live reports go to it, dry-run
    reports to :func:`dry_run_path` of it. Creates the files (mode 0600) and
    their directory when needed, and rotates them by ``rotation`` (default
    :class:`~tagger.config.model.AuditRotation`). Each line carries the account and the fields of
    :meth:`tagger.audit.entry.Entry.to_json`. Raises OSError when the file
    cannot be written.
    """
    policy = rotation if rotation is not None else AuditRotation()
    reports = list(reports)
    count = 0
    for dry_run in (False, True):
        lines = _lines(r for r in reports if r.dry_run is dry_run)
        if lines:
            append_lines(audit_file(path, dry_run), lines, policy)
            count += len(lines)
    return count


def write_failure(path: Path, exc: OSError) -> str:
    """Return the operator's message for an audit file that could not be written.

    Given the configured (or ``--audit``) file and the error raised by
    :func:`write_entries`; the message names the file that failed and the fix.
    """
    reason = exc.strerror or str(exc)
    if is_link_refusal(exc):
        return (
            f"cannot write the audit file {path}: it is a symbolic link, and tagger does not"
            f" follow links for the files it writes; point audit.path (or --audit) at the"
            f" real file"
        )
    if isinstance(exc, (FileExistsError, NotADirectoryError)) and exc.filename is not None:
        # mkdir of the folder failed: something that is not a folder is in the way.
        reason = f"{exc.filename} is not a directory"
    elif exc.filename is not None and str(exc.filename) != str(path):
        # mkdir or rotation may fail on a parent or a rotated copy: say which.
        reason = f"{reason}: {exc.filename}"
    return (
        f"cannot write the audit file {path}: {reason}; "
        f"fix the path or its permissions (audit.path in the config, or --audit)"
    )
