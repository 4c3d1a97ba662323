"""A sample of a rule's audit-only matches, read from the audit file (for ``tagger promote``).

An operator promoting a rule should see what it would have tagged, not only
how much: the latest entries with ``outcome: audit`` of the rule in its
current definition (its ``rule_hash``), from the live audit file and its
rotated copies. Unreadable lines are skipped: the sample is a preview, the
audit file itself stays the record.
"""

from __future__ import annotations

import json
from collections import deque
from pathlib import Path
from typing import Any

from tagger.audit.writer import rotated_paths

SAMPLE_SIZE = 5
# Rotated copies read besides the live file (the newest matches are in the first).
ROTATED_READ = 9


def audit_sample(
    path: Path, rule_id: str, content_hash: str, size: int = SAMPLE_SIZE
) -> list[dict[str, Any]]:
    """Return up to ``size`` audit-only entries of ``rule_id`` at ``content_hash``, newest last.

    Given the configured audit file; reads it and its rotated copies (oldest
    first). A missing file gives an empty list; raises OSError when a file
    exists but cannot be read.
    """
    latest: deque[dict[str, Any]] = deque(maxlen=max(0, size))
    for file in reversed(rotated_paths(path, ROTATED_READ)):
        with file.open(encoding="utf-8", errors="replace") as lines:
            for line in lines:
                record = _entry(line)
                if (
                    record is not None
                    and record.get("outcome") == "audit"
                    and record.get("rule") == rule_id
                    and record.get("rule_hash") == content_hash
                ):
                    latest.append(record)
    return list(latest)


def _entry(line: str) -> dict[str, Any] | None:
    try:
        value = json.loads(line)
    except ValueError:
        return None
    return value if isinstance(value, dict) else None
