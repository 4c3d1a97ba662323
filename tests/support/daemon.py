"""Helpers for end-to-end tests: configs pointed at a simulator, tagger processes, expectations.

Everything here drives real components: the simulator is a real HTTP server on
127.0.0.1, tagger runs as a real process (``python -m tagger``), and the state
is a real SQLite file. The helpers the benchmarks share live in
:mod:`testkit`; they are re-exported here for the tests.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from typing import Any

from testkit import ROOT, RULES_DIR
from testkit.expected import applied_pairs, expected_pairs, repeated_applies, sim_message
from testkit.processes import (
    HANG_GUARD_SLACK,
    TAGGER,
    Running,
    free_port,
    run_tagger,
    start_tagger,
    tagger_env,
    wait_until,
)
from testkit.setup import account_yaml, write_config

__all__ = [
    "HANG_GUARD_SLACK",
    "RELAXED_AGES",
    "ROOT",
    "RULES_DIR",
    "TAGGER",
    "Running",
    "account_yaml",
    "applied_pairs",
    "audit_records",
    "expected_pairs",
    "file_digest",
    "free_port",
    "repeated_applies",
    "run_tagger",
    "sim_message",
    "start_tagger",
    "tagger_env",
    "wait_until",
    "write_config",
]

# For ``status --check`` in tests about something else than the age of the last
# cycle: the configs cycle every 2 s, and a busy machine can take 12 s (6
# intervals, the critical age) between two commands.
RELAXED_AGES = ("--warn-intervals", "100000", "--crit-intervals", "200000")


def file_digest(path: Path) -> str | None:
    """Return the SHA-256 of a file's bytes, or None when it does not exist."""
    if not path.exists():
        return None
    return hashlib.sha256(path.read_bytes()).hexdigest()


def audit_records(path: Path, *, intents: bool = False) -> list[dict[str, Any]]:
    """Return the JSON Lines entries of an audit report (empty when it does not exist).

    The write-ahead records of applies (``"record": "intent"``) are left out
    unless ``intents`` is set.
    """
    if not path.exists():
        return []
    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]
    return [r for r in lines if intents or r.get("record") != "intent"]
