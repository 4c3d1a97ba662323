"""The daemon's quota note: each endpoint's use of its API quota in the last cycle.

``<state file>.quota.json`` is rewritten (atomically, mode 0600) by a live
daemon after every cycle, so ``tagger status`` can show, per account and
endpoint, the calls per second the service accepted during the cycle, the
429s it answered and the refill the client paces to (read from the
rate-limit headers, or observed when the server sends none), without
calling the account. It holds no secret: account names, endpoint paths and
counts. :func:`quota_note` is pure; the reading and writing are at the edges.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from tagger.mimecast.models import parse_time
from tagger.mimecast.stats import EndpointQuota
from tagger.state.atomic import write_atomically

__all__ = [
    "EndpointUse",
    "QuotaNote",
    "quota_note",
    "quota_path",
    "read_quota",
    "write_quota",
]

# An account's endpoint totals: (account, endpoint) -> (answered, throttled).
Totals = Mapping[tuple[str, str], tuple[int, int]]


@dataclass(frozen=True, slots=True)
class EndpointUse:
    """One endpoint of one account over the last cycle (and its totals since the start)."""

    account: str
    endpoint: str
    accepted_per_s: float  # answers other than 429 per second of the cycle
    throttled: int  # 429s in the cycle
    refill_per_s: float | None  # what the client paces to (None: not known)
    answered_total: int
    throttled_total: int


@dataclass(frozen=True, slots=True)
class QuotaNote:
    """Every endpoint's use at ``at``, over a cycle of ``cycle_s`` seconds."""

    at: datetime
    cycle_s: float
    endpoints: tuple[EndpointUse, ...]

    def totals(self) -> dict[tuple[str, str], tuple[int, int]]:
        """Return the totals this note ends with, for the next note's differences."""
        return {
            (e.account, e.endpoint): (e.answered_total, e.throttled_total) for e in self.endpoints
        }


def quota_note(
    at: datetime,
    cycle_s: float,
    use: Mapping[str, Sequence[EndpointQuota]],
    before: Totals,
) -> QuotaNote:
    """Return the note of a cycle that took ``cycle_s`` seconds and ended at ``at``.

    ``use`` maps each account to its client's totals now, ``before`` holds
    the totals at the end of the previous cycle (empty for the first): the
    difference is the cycle's. Pure.
    """
    seconds = max(cycle_s, 1e-3)
    out = []
    for account, endpoints in sorted(use.items()):
        for quota in endpoints:
            answered0, throttled0 = before.get((account, quota.endpoint), (0, 0))
            answered = max(quota.answered - answered0, 0)
            out.append(
                EndpointUse(
                    account,
                    quota.endpoint,
                    answered / seconds,
                    max(quota.throttled - throttled0, 0),
                    quota.refill_per_s,
                    quota.answered,
                    quota.throttled,
                )
            )
    return QuotaNote(at, cycle_s, tuple(out))


def quota_path(state_path: Path) -> Path:
    """Return the quota note's path for ``state_path``."""
    return Path(f"{state_path}.quota.json")


def _json(note: QuotaNote) -> dict[str, Any]:
    return {
        "at": note.at.isoformat(),
        "cycle_s": round(note.cycle_s, 3),
        "endpoints": [
            {
                "account": e.account,
                "endpoint": e.endpoint,
                "accepted_per_s": round(e.accepted_per_s, 3),
                "throttled": e.throttled,
                "refill_per_s": None if e.refill_per_s is None else round(e.refill_per_s, 3),
                "answered_total": e.answered_total,
                "throttled_total": e.throttled_total,
            }
            for e in note.endpoints
        ],
    }


def write_quota(state_path: Path, note: QuotaNote) -> None:
    """Write the note atomically (0600, temporary file, fsync, rename); OSError when it cannot."""
    text = json.dumps(_json(note), indent=2, sort_keys=True)
    write_atomically(quota_path(state_path), text)


def _endpoint(item: Mapping[str, Any]) -> EndpointUse:
    refill = item.get("refill_per_s")
    return EndpointUse(
        str(item["account"]),
        str(item["endpoint"]),
        float(item["accepted_per_s"]),
        int(item["throttled"]),
        None if refill is None else float(refill),
        int(item.get("answered_total", 0)),
        int(item.get("throttled_total", 0)),
    )


def read_quota(state_path: Path) -> QuotaNote | None:
    """Return the note beside ``state_path``, or None when there is none (or it is unreadable)."""
    try:
        data = json.loads(quota_path(state_path).read_text(encoding="utf-8"))
        at = parse_time(data["at"])
        if at is None:
            return None
        endpoints = tuple(_endpoint(item) for item in data["endpoints"])
        return QuotaNote(at, float(data["cycle_s"]), endpoints)
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
