"""Evaluation: priority, stop, unless, audit mode, search re-checks, explanations."""

from __future__ import annotations

import json
from pathlib import Path

from tagger.mimecast.models import Message, TrackedEmail
from tagger.rules import evaluate, explain_message, load_rules, prefilter, render
from tagger.rules.messages import load_message
from tests.support.rules import RULES_DIR, message, rule, ruleset_of

FAIL_DMARC = {"spamInfo": {"spamProcessingDetail": {"dmarc": {"allow": False, "info": "fail"}}}}
DMARC = {"field": "dmarc.result", "equals": "fail"}


def ids(decisions: tuple[object, ...]) -> list[str]:
    return [d.rule_id for d in decisions]  # type: ignore[attr-defined]


def test_priority_order_and_stop(tmp_path: Path) -> None:
    ruleset = ruleset_of(
        tmp_path,
        [
            rule("low", DMARC, priority=1),
            rule("top", DMARC, priority=10, stop=True),
            rule("peer", DMARC, priority=10),
            rule("mid", DMARC, priority=5),
        ],
    )
    assert [r.id for r in ruleset.rules] == ["peer", "top", "mid", "low"]
    msg = message(FAIL_DMARC, route="inbound")
    # stop skips strictly lower priorities only: the equal-priority peer still applies.
    assert ids(evaluate(ruleset, msg)) == ["peer", "top"]
    notes = {t.rule_id: t.note for t in explain_message(ruleset, msg)}
    assert "top (priority 10) matched with stop" in notes["mid"]
    assert notes["peer"] == ""


def test_audit_rules_are_reported_and_never_stop_others(tmp_path: Path) -> None:
    ruleset = ruleset_of(
        tmp_path, [rule("watch", DMARC, priority=9, stop=True, mode="audit"), rule("act", DMARC)]
    )
    decisions = evaluate(ruleset, message(FAIL_DMARC, route="inbound"))
    assert [(d.rule_id, d.mode) for d in decisions] == [("watch", "audit"), ("act", "enforce")]


def test_unless_and_disabled(tmp_path: Path) -> None:
    unless = {"field": "sender.domain", "domain": "trusted.example"}
    ruleset = ruleset_of(
        tmp_path, [rule("r", DMARC, unless=unless), rule("off", DMARC, enabled=False)]
    )
    assert [r.id for r in ruleset.disabled] == ["off"]
    assert ids(evaluate(ruleset, message(FAIL_DMARC, route="inbound"))) == ["r"]
    trusted = message(FAIL_DMARC, route="inbound", fromEnv={"emailAddress": "a@x.trusted.example"})
    assert evaluate(ruleset, trusted) == ()


def test_search_criteria_are_rechecked(tmp_path: Path) -> None:
    """A message found by another rule's search cannot match this rule."""
    data = rule("r", DMARC)
    data["search"] = {"route": ["inbound"], "status": ["archived"], "subject": "Invoice"}
    ruleset = ruleset_of(tmp_path, [data])
    base = {"route": "inbound", "status": "archived", "subject": "your INVOICE 42"}
    assert ids(evaluate(ruleset, message(FAIL_DMARC, **base))) == ["r"]
    assert evaluate(ruleset, message(FAIL_DMARC, **{**base, "route": "outbound"})) == ()
    assert evaluate(ruleset, message(FAIL_DMARC, **{**base, "status": "held"})) == ()
    assert evaluate(ruleset, message(FAIL_DMARC, **{**base, "subject": "hello"})) == ()
    # A value the message does not carry cannot contradict the search that found it.
    assert ids(evaluate(ruleset, message(FAIL_DMARC, route="inbound"))) == ["r"]


def test_prefilter_three_values(tmp_path: Path) -> None:
    ruleset = ruleset_of(
        tmp_path,
        [
            rule("info", DMARC),
            rule("score", {"field": "spam.score", "gte": 10}),
            rule("mixed", {"all": [{"field": "spam.score", "gte": 10}, DMARC]}),
        ],
    )
    by_id = {r.id: r for r in ruleset.rules}
    assert by_id["info"].needs_info and by_id["mixed"].needs_info
    assert not by_id["score"].needs_info
    high = TrackedEmail("m", route="inbound", spam_score=12)
    low = TrackedEmail("m", route="inbound", spam_score=1)
    outbound = TrackedEmail("m", route="outbound", spam_score=12)
    assert prefilter(by_id["score"], high) is True
    assert prefilter(by_id["score"], low) is False
    assert prefilter(by_id["info"], high) is None
    assert prefilter(by_id["info"], outbound) is False  # the route already rules it out
    assert prefilter(by_id["mixed"], low) is False
    assert prefilter(by_id["mixed"], high) is None
    # A search-level field missing from the summary falls back to info: unknown until then.
    assert prefilter(by_id["score"], TrackedEmail("m", route="inbound")) is None
    assert evaluate(ruleset, Message(high, None))[0].rule_id == "score"


def test_explanations_render_and_serialise() -> None:
    ruleset = load_rules([RULES_DIR])
    msg = load_message(RULES_DIR / "fixtures" / "phish-dmarc-fail.json")
    decisions = evaluate(ruleset, msg)
    assert [d.rule_id for d in decisions] == ["phishing-suspect"]
    text = render(decisions[0].explanation)
    assert "✓ phishing-suspect [enforce, priority 100]: MATCH → Security/Phishing" in text
    assert "✓ dmarc.result equals 'fail'    (seen: 'fail')" in text
    assert "✗ permitted_sender.result equals 'allow'    (seen: 'none')" in text
    data = json.loads(json.dumps(decisions[0].explanation.to_dict()))
    assert data["rule"] == "phishing-suspect" and data["result"] is True
    leaves = data["match"]["children"][1]["children"]
    assert leaves[0] == {
        "condition": "dmarc.result equals 'fail'",
        "result": True,
        "path": "rules[0].match.all[1].any[0]",
        "field": "dmarc.result",
        "seen": "fail",
    }


def test_explain_without_info_marks_unknowns() -> None:
    ruleset = load_rules([RULES_DIR])
    msg = Message(TrackedEmail("m", route="inbound"), None)
    traces = {t.rule_id: t for t in explain_message(ruleset, msg)}
    assert traces["phishing-suspect"].result is None
    assert "? dmarc.result equals 'fail'    (seen: unknown (needs message info))" in render(
        traces["phishing-suspect"]
    )


def test_summary_is_synthesised_from_info() -> None:
    msg = load_message(RULES_DIR / "fixtures" / "outbound-customer-db.json")
    assert msg.summary.route == "outbound"
    assert msg.summary.attachments is True
    assert msg.summary.sender_ip == "198.51.100.31"
    assert msg.summary.from_env.email == "dev.ops@example.com"
