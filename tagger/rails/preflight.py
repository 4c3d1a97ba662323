"""Preflight: what must hold before the first apply of a cycle.

Each check returns the problems it found, as text that names the path or tag
and the fix; an empty list means the check passed. Nothing is applied in a
cycle whose preflight found a problem: the daemon reports it (status,
metrics, log) and tries again next cycle. The checks:

- the audit sink is writable (its folder is created, a test write made);
- every tag of every enforcing rule resolves on the account;
- the state is writable and passes a quick integrity check (the ledger runs it);
- the host clock agrees with the server's ``Date`` header (windows are planned
  from the host clock: a clock far off searches the wrong time).
"""

from __future__ import annotations

import contextlib
import errno
import os
import tempfile
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path

MAX_CLOCK_SKEW = timedelta(minutes=5)


def audit_sink_problems(path: Path | None, open_append: Callable[[Path], int]) -> list[str]:
    """Check that the audit file at ``path`` can be written (None: no audit sink).

    Creates the folder when missing and writes (then removes) a probe file
    beside the audit file; the audit file itself is only opened for append,
    with ``open_append`` (the writer's own way to open it: given the path,
    returns a descriptor; raises OSError, ELOOP for a symbolic link).
    """
    if path is None:
        return []
    folder = path.parent
    fix = "make it writable by the tagger user, or set audit.path under the state directory"
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return [f"audit folder {folder} cannot be created ({exc.strerror or exc}): {fix}"]
    if not folder.is_dir():
        return [f"audit folder {folder} is not a directory: {fix}"]
    if path.exists() and not path.is_file():
        return [f"audit path {path} is not a regular file: {fix}"]
    try:
        fd, probe = tempfile.mkstemp(prefix=".tagger-probe-", dir=folder)
        try:
            os.write(fd, b"probe\n")
            os.fsync(fd)
        finally:
            os.close(fd)
            with contextlib.suppress(OSError):
                os.unlink(probe)
        os.close(open_append(path))
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return [f"audit file {path} is a symbolic link, which tagger does not follow: {fix}"]
        return [f"audit file {path} cannot be written ({exc.strerror or exc}): {fix}"]
    return []


def tag_problems(enforcing: Mapping[str, Iterable[str]], resolved: Mapping[str, str]) -> list[str]:
    """Check that every tag of every enforcing rule resolves to a Smart Tag id.

    Given rule id → tag references (paths or names) of the rules that will
    apply, and the account's reference → id map; returns one problem per
    unresolved (rule, tag).
    """
    out = []
    for rule_id, refs in enforcing.items():
        for ref in refs:
            if ref not in resolved:
                out.append(
                    f"rule {rule_id!r}: Smart Tag {ref!r} does not exist on the account"
                    " (any more): create it in Mimecast or correct the rule, then reload"
                )
    return out


def clock_problems(server_date: str | None, host_now: datetime) -> list[str]:
    """Check the host clock against the server's ``Date`` header (None: not seen yet)."""
    if not server_date:
        return []
    try:
        server = parsedate_to_datetime(server_date)
    except (TypeError, ValueError, IndexError):
        return []
    if server.tzinfo is None:
        return []
    skew = host_now - server
    if abs(skew) <= MAX_CLOCK_SKEW:
        return []
    ahead = "ahead of" if skew > timedelta(0) else "behind"
    return [
        f"the host clock is {abs(skew).total_seconds():.0f} s {ahead} Mimecast's"
        f" (more than {MAX_CLOCK_SKEW.total_seconds():.0f} s): search windows would miss"
        " mail; fix the host's time synchronisation (e.g. systemd-timesyncd, chrony)"
    ]
