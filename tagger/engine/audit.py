"""The audit report: JSON Lines of every match, and a human summary per rule."""

from __future__ import annotations

import json
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TextIO

from tagger.engine.report import CycleReport


def write_entries(path: Path, reports: Iterable[CycleReport]) -> int:
    """Append one JSON line per rule match of ``reports`` to ``path``.

    Creates the file (mode 0600) and its directory when needed; returns the
    number of lines written. Each line carries the account, whether it was a
    dry run, and the entry (message id, received time, sender, subject, rule,
    tags, mode, planned tag ids, skipped tags and the explanation).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    count = 0
    with os.fdopen(fd, "a", encoding="utf-8") as out:
        for report in reports:
            for entry in report.entries:
                record = {"account": report.account, "dry_run": report.dry_run}
                record.update(entry.to_json())
                out.write(json.dumps(record, sort_keys=True, default=str) + "\n")
                count += 1
        out.flush()
        os.fsync(out.fileno())
    return count


def print_summary(reports: Iterable[CycleReport], out: TextIO) -> None:
    """Print the human summary of each report to ``out``."""
    for report in reports:
        for line in report.summary_lines():
            print(line, file=out)
    out.flush()
