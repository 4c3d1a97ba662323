"""Blast-radius limits: how many tags a rule may apply before it is paused (pure).

Each rule has a budget per cycle and per rolling 24 hours (account-wide
defaults, overridable per rule with ``max_applies``), and an anomaly guard: a
rule that matches more than ``anomaly_factor`` times its trailing average per
cycle is paused too. A paused rule applies nothing more until ``tagger resume``
(or a raised limit and a reload) lifts the pause: it is paused *before* it
applies beyond a limit, never after.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Limits:
    """The limits of one rule.

    ``per_cycle`` and ``per_day`` bound the applies of one cycle and of any
    24 hours; ``anomaly_factor`` times the trailing average of matches per
    cycle (over the cycles in which it matched) bounds one cycle's matches,
    once the rule has matched in at least ``anomaly_min_cycles`` cycles, and
    the bound is at least ``anomaly_floor``
    (a rule that matched 0.2 per cycle on average may still match 3).
    """

    per_cycle: int = 500
    per_day: int = 5000
    anomaly_factor: float = 10.0
    anomaly_min_cycles: int = 5
    anomaly_floor: int = 20


@dataclass(frozen=True, slots=True)
class History:
    """What a rule did before this cycle: applies in the last 24 h, matches per cycle.

    ``cycles`` counts the cycles in which the rule matched (quiet ones do not
    dilute the average), ``matched_total`` their matches.
    """

    applied_24h: int = 0
    cycles: int = 0
    matched_total: int = 0

    @property
    def average_matches(self) -> float:
        """Return the trailing average of matches per cycle (0 without history)."""
        return self.matched_total / self.cycles if self.cycles else 0.0


@dataclass(frozen=True, slots=True)
class Pause:
    """Why a rule was paused: the limit it reached and the counts at that moment."""

    rule_id: str
    reason: str
    limit: int
    count: int

    def message(self) -> str:
        """Return the operator-facing text: what happened and how to lift it."""
        if self.limit <= 0:  # `tagger pause RULE`: no limit was reached
            return (
                f"rule {self.rule_id!r} paused: {self.reason}; nothing more is applied for it"
                f" until 'tagger resume {self.rule_id}'"
            )
        return (
            f"rule {self.rule_id!r} paused: {self.reason} ({self.count} reached, limit"
            f" {self.limit}); nothing more is applied for it. Check its matches"
            f" (tagger once --dry-run --rule {self.rule_id}), then run"
            f" 'tagger resume {self.rule_id}' or raise the limit and reload"
        )


@dataclass
class Budget:
    """The apply and match budget of every rule for one cycle of one account.

    Given each rule's :class:`Limits` and :class:`History`, it answers, one
    apply or match at a time, whether the rule may go on; the first refusal
    records a :class:`Pause` for the rule, and every later request for it is
    refused too. Not thread-safe; the cycle calls it from one event loop.
    """

    limits: Mapping[str, Limits]
    history: Mapping[str, History]
    applied: dict[str, int] = field(default_factory=dict)
    matched: dict[str, int] = field(default_factory=dict)
    paused: dict[str, Pause] = field(default_factory=dict)

    def _limits(self, rule_id: str) -> Limits:
        return self.limits.get(rule_id, Limits())

    def note_match(self, rule_id: str) -> Pause | None:
        """Count one match of ``rule_id``; returns the pause when it is anomalous."""
        if rule_id in self.paused:
            return self.paused[rule_id]
        count = self.matched.get(rule_id, 0) + 1
        self.matched[rule_id] = count
        limits = self._limits(rule_id)
        past = self.history.get(rule_id, History())
        if past.cycles < limits.anomaly_min_cycles or limits.anomaly_factor <= 0:
            return None
        bound = max(limits.anomaly_floor, int(limits.anomaly_factor * past.average_matches))
        if count > bound:
            return self._pause(
                rule_id,
                f"matched more than {limits.anomaly_factor:g} times its trailing average"
                f" of {past.average_matches:.1f} per cycle",
                bound,
                count,
            )
        return None

    def reserve(self, rule_id: str) -> Pause | None:
        """Reserve one apply for ``rule_id``; returns the pause when none is left.

        Call before the apply; :meth:`release` gives the reservation back when
        the apply did not happen (it failed).
        """
        if rule_id in self.paused:
            return self.paused[rule_id]
        limits = self._limits(rule_id)
        done = self.applied.get(rule_id, 0)
        if done + 1 > limits.per_cycle:
            return self._pause(rule_id, "per-cycle apply limit", limits.per_cycle, done)
        day = self.history.get(rule_id, History()).applied_24h + done
        if day + 1 > limits.per_day:
            return self._pause(rule_id, "24-hour apply limit", limits.per_day, day)
        self.applied[rule_id] = done + 1
        return None

    def release(self, rule_id: str) -> None:
        """Give back one reservation of ``rule_id`` (its apply did not happen)."""
        self.applied[rule_id] = max(0, self.applied.get(rule_id, 0) - 1)

    def _pause(self, rule_id: str, reason: str, limit: int, count: int) -> Pause:
        pause = Pause(rule_id, reason, limit, count)
        self.paused[rule_id] = pause
        return pause
