"""The report of one account's cycle (the tally): its figures, and what it says of them."""

from __future__ import annotations

from typing import Any

from tagger.engine import cyclesummary
from tagger.engine.counters import COUNTERS, run_counts
from tagger.engine.figures import CycleFigures, RuleFigures
from tagger.engine.reportmerge import merge_reports

# The merge and the counters live in their own modules; importers of old still find them here.
__all__ = ["COUNTERS", "CycleReport", "RuleFigures", "merge_reports", "run_counts"]


class CycleReport(CycleFigures):
    """Counts and entries from one account's cycle, with the words the summary prints of them.

    The figures and how a cycle records them are :class:`CycleFigures`'; the
    wording is :mod:`tagger.engine.cyclesummary`'s.
    """

    def quota_note(self) -> str:
        """Return what the quota left for the next cycle, in words ("" when nothing)."""
        return cyclesummary.quota_note(self)

    def needs_operator(self) -> list[str]:
        """Return what this cycle found that waits for the operator, one phrase each."""
        return cyclesummary.needs_operator(self)

    def undone(self) -> list[str]:
        """Return what this cycle left for the next run to retry, one phrase each (empty: none)."""
        return cyclesummary.undone(self)

    def summary_fields(self) -> dict[str, Any]:
        """Return the account's figures as log fields (the ``cycle_summary`` event)."""
        return cyclesummary.summary_fields(self)

    def rule_fields(self) -> list[dict[str, Any]]:
        """Return one set of log fields per rule (the ``rule_summary`` events), by rule id."""
        return cyclesummary.rule_fields(self)

    def summary_lines(self) -> list[str]:
        """Return the human summary: one line for the account and one per rule."""
        return cyclesummary.summary_lines(self)
