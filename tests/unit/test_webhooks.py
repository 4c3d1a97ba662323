"""Webhook events and bodies (pure), and the notify: section of the config."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tagger.engine.tally import CycleReport
from tagger.service.webhooks import body, cycle_events, reload_event
from tests.support.config import ENV, MINIMAL, load, one_problem

AT = datetime(2026, 12, 1, 9, 30, tzinfo=UTC)
PAUSE_TEXT = "rule 'r1' paused: per_cycle limit (4 reached, limit 4); nothing more is applied"


def report(account: str = "corp", **fields: object) -> CycleReport:
    out = CycleReport(account, False, AT, AT)
    for name, value in fields.items():
        setattr(out, name, value)
    return out


def test_a_rule_is_told_once_when_it_becomes_paused() -> None:
    first, seen = cycle_events([report(paused=["r1"], new_pauses=[PAUSE_TEXT])], {}, AT)
    assert [(e.kind, e.account, e.rule, e.summary) for e in first] == [
        ("rule_paused", "corp", "r1", PAUSE_TEXT)
    ]
    again, seen = cycle_events([report(paused=["r1"])], seen, AT)
    assert again == []
    # Resumed, then paused again: told again.
    _, seen = cycle_events([report(paused=[])], seen, AT)
    back, _ = cycle_events([report(paused=["r1"])], seen, AT)
    assert [e.rule for e in back] == ["r1"] and "tagger resume r1" in back[0].summary


def test_pauses_from_before_a_restart_are_not_told_again() -> None:
    events, seen = cycle_events([report(paused=["old", "r1"], new_pauses=[PAUSE_TEXT])], {}, AT)
    assert [e.rule for e in events] == ["r1"]
    assert seen == {"corp": frozenset({"old", "r1"})}


def test_an_account_whose_cycle_cannot_run_is_told_and_its_pauses_kept() -> None:
    failing = report(account_error="credentials refused (HTTP 401)", preflight=[])
    events, seen = cycle_events([failing], {"corp": frozenset({"r1"})}, AT)
    assert [(e.kind, e.account) for e in events] == [("account_failing", "corp")]
    assert "credentials refused (HTTP 401)" in events[0].summary
    assert seen == {"corp": frozenset({"r1"})}


def test_a_rejected_reload_carries_its_first_problems() -> None:
    problems = [f"rules/a.yaml:{n}:3: error: bad" for n in range(30)]
    event = reload_event(problems, AT)
    assert event.kind == "reload_rejected" and "rules/a.yaml:0:3" in event.summary
    assert len(event.details) == 10


def test_the_three_bodies() -> None:
    event = reload_event(["rules/a.yaml:7:5: error: <script> & co"], AT)
    plain = body("json", event, "mail-01")
    assert plain["event"] == "reload_rejected" and plain["host"] == "mail-01"
    assert plain["at"] == "2026-12-01T09:30:00+00:00" and plain["account"] is None
    slack = body("slack", event, "mail-01")
    section = slack["blocks"][0]["text"]["text"]
    # Slack reads <...> as links and & as an entity: escaped, so text stays text.
    assert "&lt;script&gt; &amp; co" in section and "<script>" not in str(slack)
    assert slack["text"].startswith("tagger: Reload rejected")
    teams = body("teams", event, "mail-01")
    card = teams["attachments"][0]["content"]
    assert teams["type"] == "message" and card["type"] == "AdaptiveCard"
    facts = {f["title"]: f["value"] for b in card["body"] if b["type"] == "FactSet"
             for f in b["facts"]}  # fmt: skip
    assert facts["Host"] == "mail-01" and facts["At"] == "2026-12-01 09:30:00Z"
    assert any(b.get("text") == "rules/a.yaml:7:5: error: <script> & co" for b in card["body"])


NOTIFY = (
    MINIMAL
    + """\
notify:
  - url: {env: HOOK}
    format: slack
    events: [rule_paused]
    repeat_after: 30m
  - url: http://127.0.0.1:8080/hook
"""
)


def test_notify_targets_are_read_with_their_defaults(tmp_path: Path) -> None:
    config = load(tmp_path, NOTIFY, {**ENV, "HOOK": "https://hooks.slack.com/services/T/B/tok"})
    slack, local = config.notify
    assert slack.url == "https://hooks.slack.com/services/T/B/tok"
    assert (slack.format, slack.events, slack.repeat_after) == (
        "slack",
        frozenset({"rule_paused"}),
        timedelta(minutes=30),
    )
    assert local.format == "json" and len(local.events) == 3
    assert (local.max_attempts, local.timeout_s, local.index) == (3, 10.0, 1)
    assert "tok" not in repr(slack) and slack.name == "notify[0] (slack)"


@pytest.mark.parametrize(
    ("extra", "line", "words"),
    [
        ("  - url: http://hooks.example.com/x\n", 10, ["only https is allowed", "notify[0].url"]),
        ("  - url: https://user:pw@hooks.example.com/x\n", 10, ["user name or password"]),
        ("  - url: {env: NOPE}\n", 10, ["NOPE"]),
        ("  - url: https://h.example.com/x\n    format: discord\n", 11, ["json, slack, teams"]),
        ("  - url: https://h.example.com/x\n    repeat_after: soon\n", 11, ["duration"]),
        ("  - url: https://h.example.com/x\n    events: [rule_pasued]\n", 11, ["rule_paused"]),
    ],
)
def test_bad_notify_targets_are_located(
    tmp_path: Path, extra: str, line: int, words: list[str]
) -> None:
    problem = one_problem(tmp_path, MINIMAL + "notify:\n" + extra)
    assert problem.line == line, str(problem)
    assert all(w in str(problem) for w in words), str(problem)
    assert "pw@" not in str(problem)
