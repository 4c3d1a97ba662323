"""``tagger status``: last run per account, watermark lag, tags per rule, failures."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from typing import Any

from tagger.cli.context import load
from tagger.state import StateStore


def register(sub: Any, parent: argparse.ArgumentParser) -> None:
    """Add the ``status`` sub-command."""
    parser = sub.add_parser(
        "status", parents=[parent], help="show what the daemon did (reads the state file)"
    )
    parser.set_defaults(handler=handle)


def _ago(value: datetime | None, now: datetime) -> str:
    """Return ``value`` and how long ago it was, for humans."""
    if value is None:
        return "never"
    seconds = int((now - value).total_seconds())
    return f"{value:%Y-%m-%d %H:%M:%S}Z ({seconds // 3600}h{seconds % 3600 // 60:02d}m ago)"


def _criteria(key: str) -> str:
    """Return a query key with its unset criteria left out (``route=inbound; attachments=True``)."""
    parts = [p for p in key.split(";") if p.partition("=")[2] not in ("", "None")]
    return "; ".join(parts) or "all mail"


def handle(args: argparse.Namespace) -> int:
    """Print the status from the state file (read-only; safe while the daemon runs)."""
    config = load(args)
    if not config.state_path.exists():
        print(f"no state yet at {config.state_path}: the daemon has not run")
        return 0
    now = datetime.now(UTC)
    store = StateStore.open(config.state_path, lock=False, readonly=True)
    try:
        print(f"state: {config.state_path}")
        runs = store.last_runs()
        if not runs:
            print("no runs recorded")
        for run in runs:
            print(
                f"account {run.account}: last {run.kind} {_ago(run.started_at, now)} "
                f"status {run.status}" + (f" ({run.error})" if run.error else "")
            )
            for key, value in sorted(run.counts.items()):
                print(f"  {key}: {value}")
        for account, key, mark in store.watermarks():
            print(f"watermark {account} [{_criteria(key)}]: {_ago(mark, now)}")
        per_rule = store.tags_per_rule()
        if per_rule:
            print("tags applied per rule:")
            for (rule_id, tag_id), count in sorted(per_rule.items()):
                print(f"  {rule_id} -> {tag_id}: {count}")
        failures = store.failures()
        if failures:
            print("failures:")
            for failure in failures:
                print(
                    f"  {failure.account} {failure.message_id}: {failure.attempts} attempts"
                    + (" (set aside)" if failure.set_aside_at else "")
                    + f": {failure.last_error}"
                )
    finally:
        store.close()
    return 0
