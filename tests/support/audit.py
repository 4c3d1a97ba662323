"""Helpers of the audit tests: a cycle's tally with decisions, built without a cycle."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from tagger.engine.plan import Action, MessagePlan
from tagger.engine.tally import CycleReport
from tagger.engine.window import Window
from tagger.mimecast.models import Address, TrackedEmail

NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


class Decided:
    """A rule decision as the report sees it."""

    def __init__(self, rule_id: str, mode: str = "enforce") -> None:
        self.rule_id, self.mode, self.tags = rule_id, mode, ("Security/Phishing",)

    def explanation_json(self) -> dict[str, object]:
        return {"match": {"condition": "spam.score gte 5", "result": True, "field": "x", "seen": 7}}


def a_report(n: int, *, dry_run: bool = False, subject: str = "hello") -> CycleReport:
    report = CycleReport("main", dry_run, NOW, clock=lambda: NOW + timedelta(seconds=5))
    report.windows["q"] = Window(NOW - timedelta(hours=1), NOW)
    for i in range(n):
        summary = TrackedEmail(
            id=f"m{i}",
            received=NOW - timedelta(minutes=i),
            subject=subject,
            from_hdr=Address("eve@bad.example"),
            to=(Address("a@corp.example"), Address("a@corp.example"), Address("b@corp.example")),
        )
        action = Action(f"m{i}", "st-1", "Security/Phishing", "phish", "h" * 64, "enforce")
        plan = MessagePlan(f"m{i}", (action,), ())
        report.add_decisions(summary, [Decided("phish")], plan)
    return report
