"""Counts read right: one of a thing, several things."""

from __future__ import annotations

from tagger.engine.tally import CycleReport, RuleFigures
from tagger.words import plural
from tests.unit.test_daemon_units import FIVE, T0


def test_plural_takes_the_number_of_the_count() -> None:
    assert plural(1, "cycle") == "1 cycle"
    assert plural(0, "cycle") == "0 cycles"
    assert plural(2, "window") == "2 windows"
    assert plural(1, "search") == "1 search" and plural(3, "search") == "3 searches"
    assert plural(2, "entry") == "2 entries"
    assert plural(2, "audit-only match", "audit-only matches") == "2 audit-only matches"


def test_the_once_summary_says_1_window_and_1_tag() -> None:
    report = CycleReport("a", False, T0, T0 + FIVE, applied=1, held_back=1, saturated=1)
    report.rules["r"] = RuleFigures(matched=1, applied=1)
    text = "\n".join(report.summary_lines())
    assert "1 tag applied" in text and "1 windows" not in text and "1 tags" not in text
    assert "incomplete: 1 window held back" in text
    assert "possibly incomplete: 1 window still truncated" in text


def test_seen_values_read_the_same_in_explain_and_in_audit_explanations() -> None:
    from tagger.audit.explanation import explanation_lines
    from tagger.words import UNKNOWN_SEEN, seen_text

    assert seen_text("inbound") == "'inbound'"
    assert seen_text(["docm", "html"]) == "['docm', 'html']"
    assert seen_text([]) == seen_text(None) == "absent"
    assert seen_text(UNKNOWN_SEEN) == UNKNOWN_SEEN
    stored = {
        "match": {
            "condition": "all",
            "result": True,
            "children": [
                {"condition": "route in", "result": True, "field": "route", "seen": "inbound"},
                {"condition": "ext", "result": True, "field": "x", "seen": ["docm"]},
            ],
        }
    }
    text = "\n".join(explanation_lines(stored))
    assert "(seen: 'inbound')" in text and "(seen: ['docm'])" in text
