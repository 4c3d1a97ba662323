"""The simulated mailbox: messages sorted by received time, and their Smart Tags.

Messages come from three deterministic streams: the history generated at
start, the clock-driven arrivals (materialised lazily whenever the clock is
read), and explicit :meth:`Mailbox.add`. Search bisects the received-time
window, so it stays cheap with 100k messages. Thread-safe.
"""

from __future__ import annotations

import random
import threading
from bisect import bisect_left, bisect_right
from dataclasses import dataclass
from typing import Any

from tagger.simulator.config import SimulatorConfig
from tagger.simulator.records import SimMessage
from tagger.simulator.search import SearchQuery, matches
from tagger.simulator.synth import generate
from tagger.simulator.tags import SmartTagDef, build_tree

MESSAGE_NOT_FOUND = "err_message_not_found"
TAG_NOT_FOUND = "err_smart_tag_not_found"


@dataclass(frozen=True, slots=True)
class SearchResult:
    """The capped, received-ordered matches of one search."""

    messages: tuple[SimMessage, ...]
    capped: bool


class Mailbox:
    """Messages and applied tags of one simulated account."""

    def __init__(self, config: SimulatorConfig, start: float) -> None:
        """Generate the history: ``config.messages`` spread over the hours before ``start``."""
        self._cfg = config
        self._lock = threading.Lock()
        self._messages: list[SimMessage] = []
        self._times: list[float] = []
        self._by_id: dict[str, SimMessage] = {}
        self.tags: tuple[SmartTagDef, ...] = build_tree(config.tags)
        self._tag_by_id = {t.id: t for t in self.tags}
        self._applied: dict[str, list[str]] = {}
        self._tagged: dict[str, list[str]] = {t.id: [] for t in self.tags}
        self._counts: dict[tuple[str, str], int] = {}
        self._added = 0
        self._arrivals = 0
        self._arrival_rng = random.Random(f"tagger-sim:{config.seed}:arrival-times")
        self._next_arrival = start + self._gap()
        span = max(1, int(config.history_hours * 3600))
        times_rng = random.Random(f"tagger-sim:{config.seed}:history-times")
        times = sorted(int(start) - times_rng.randint(1, span) for _ in range(config.messages))
        for index, received in enumerate(times):
            self._insert(self._make("history", index, received))

    def _gap(self) -> float:
        rate = self._cfg.arrival_rate_per_min
        return self._arrival_rng.expovariate(rate / 60.0) if rate > 0 else float("inf")

    def _make(self, stream: str, index: int, received: float) -> SimMessage:
        c = self._cfg
        return generate(c.seed, stream, index, received, c.late_fraction, c.late_delay_s)

    def _insert(self, m: SimMessage) -> None:
        # Arrivals are materialised lazily and may predate an explicit add: keep order.
        at = bisect_right(self._times, m.received)
        self._times.insert(at, m.received)
        self._messages.insert(at, m)
        self._by_id[m.id] = m

    def _advance(self, now: float) -> None:
        """Materialise the clock-driven arrivals up to ``now`` (caller holds the lock)."""
        while self._next_arrival <= now:
            self._insert(self._make("arrival", self._arrivals, int(self._next_arrival)))
            self._arrivals += 1
            self._next_arrival += self._gap()

    def add(self, n: int, now: float) -> list[SimMessage]:
        """Receive ``n`` new messages at ``now``; returns them."""
        with self._lock:
            self._advance(now)
            out = []
            for _ in range(n):
                m = self._make("added", self._added, int(now))
                self._added += 1
                self._insert(m)
                out.append(m)
            return out

    def all(self, now: float) -> list[SimMessage]:
        """Return every message received up to ``now`` (indexed or not), oldest first."""
        with self._lock:
            self._advance(now)
            return self._messages[: bisect_right(self._times, now)]

    def search(self, q: SearchQuery, now: float, cap: int) -> SearchResult:
        """Return messages matching ``q`` visible to search at ``now``, oldest first, capped."""
        with self._lock:
            self._advance(now)
            lo = 0 if q.start is None else bisect_left(self._times, q.start)
            end = now if q.end is None else min(q.end, now)
            window = self._messages[lo : bisect_right(self._times, end)]
        out: list[SimMessage] = []
        for m in window:
            if m.indexed <= now and matches(q, m):
                if len(out) == cap:
                    return SearchResult(tuple(out), True)
                out.append(m)
        return SearchResult(tuple(out), False)

    def get(self, message_id: str, now: float) -> SimMessage | None:
        """Return the message with this Mimecast ID if it was received by ``now``."""
        with self._lock:
            self._advance(now)
            m = self._by_id.get(message_id)
        return m if m is not None and m.received <= now else None

    def tag(self, tag_id: str) -> SmartTagDef | None:
        """Return the tag with this ID, or None."""
        return self._tag_by_id.get(tag_id)

    def apply(self, message_id: str, tag_id: str, now: float) -> str | None:
        """Apply a tag (idempotent); returns None on success or an error code."""
        with self._lock:
            self._advance(now)
            m = self._by_id.get(message_id)
            if m is None or m.received > now:
                return MESSAGE_NOT_FOUND
            if tag_id not in self._tag_by_id:
                return TAG_NOT_FOUND
            key = (message_id, tag_id)
            self._counts[key] = self._counts.get(key, 0) + 1
            on_message = self._applied.setdefault(message_id, [])
            if tag_id not in on_message:
                on_message.append(tag_id)
                self._tagged[tag_id].append(message_id)
            return None

    def tags_on(self, message_id: str) -> list[dict[str, Any]]:
        """Return ``{id, name, path}`` of each tag on a message, in the order applied."""
        with self._lock:
            ids = list(self._applied.get(message_id, ()))
        return [self._tag_by_id[t].applied_json() for t in ids]

    def tagged(self, tag_id: str) -> list[str]:
        """Return the IDs of the messages carrying a tag, in the order tagged."""
        with self._lock:
            return list(self._tagged.get(tag_id, ()))

    def apply_counts(self) -> dict[tuple[str, str], int]:
        """Return successful apply calls per (message ID, tag ID), repeats included."""
        with self._lock:
            return dict(self._counts)
