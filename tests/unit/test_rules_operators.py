"""Leaf operators: semantics, case folding, CIDR and domain edges, regex safety."""

from __future__ import annotations

from typing import Any

import pytest

from tagger.rules.context import Context
from tagger.rules.matchers import MAX_MATCH_INPUT, glob_to_regex
from tests.support.rules import compile_condition, condition_problems, message

INBOUND_INFO: dict[str, Any] = {
    "recipientInfo": {
        "messageInfo": {"to": ["Ann.Lee@Example.com", "bob@mail.partner.example.net"]},
        "recipientMetaInfo": {
            "components": [
                {"type": "attachment", "name": "Invoice_2026.PDF", "mimeType": "application/pdf"},
                {"type": "attachment", "name": "run.exe", "size": 2048},
            ]
        },
    },
    "spamInfo": {"spamScore": 7, "spamProcessingDetail": {"spf": {"allow": False, "info": "fail"}}},
}


def holds(condition: dict[str, Any], **summary: Any) -> bool | None:
    """Evaluate a condition against a message with INBOUND_INFO plus summary keys."""
    node = compile_condition(condition)
    return node.test(Context(message(INBOUND_INFO, **summary)))


@pytest.mark.parametrize(
    ("condition", "expected"),
    [
        ({"field": "subject", "equals": "quarterly REPORT"}, True),
        ({"field": "subject", "equals": "Quarterly Report", "case_sensitive": True}, False),
        ({"field": "subject", "equals": "Quarterly report", "case_sensitive": True}, True),
        ({"field": "subject", "in": ["nope", "QUARTERLY report"]}, True),
        ({"field": "subject", "contains": "TERLY"}, True),
        ({"field": "subject", "contains": ["zzz", "report"]}, True),
        ({"field": "subject", "startswith": "quart"}, True),
        ({"field": "subject", "endswith": "REPORT"}, True),
        ({"field": "subject", "endswith": "REPORT", "case_sensitive": True}, False),
        ({"field": "subject", "glob": "q*t"}, True),
        ({"field": "subject", "glob": "q*"}, True),
        ({"field": "subject", "glob": "report"}, False),
        ({"field": "subject", "regex": "ly\\s+rep"}, True),
        ({"field": "subject", "regex": "^report"}, False),
        ({"field": "subject", "regex": "REPORT$", "case_sensitive": True}, False),
        ({"field": "spam.score", "gt": 6}, True),
        ({"field": "spam.score", "gt": 7}, False),
        ({"field": "spam.score", "gte": 7}, True),
        ({"field": "spam.score", "lt": 7}, False),
        ({"field": "spam.score", "lte": 7}, True),
        ({"field": "spam.score", "equals": 7}, True),
        ({"field": "spf.result", "equals": "FAIL"}, True),
        ({"field": "spf.allow", "equals": False}, True),
        ({"field": "dkim.result", "exists": False}, True),
        ({"field": "dkim.result", "exists": True}, False),
        ({"field": "attachments.extension", "in": ["exe"]}, True),
        ({"field": "attachments.extension", "in": ["exe"], "elements": "all"}, False),
        ({"field": "attachments.extension", "in": ["exe", "pdf"], "elements": "all"}, True),
        ({"field": "attachments.name", "glob": "*.pdf"}, True),
        ({"field": "attachments.size", "gt": 1000}, True),
        ({"field": "recipients.domain", "domain": "example.com", "elements": "all"}, False),
        ({"field": "recipients.domain", "domain": "example.net", "elements": "all"}, False),
        (
            {
                "field": "recipients.domain",
                "domain": ["example.com", "example.net"],
                "elements": "all",
            },
            True,
        ),
        ({"field": "recipients.address", "domain": "partner.example.net"}, True),
        ({"field": "attachments.count", "equals": 2}, True),
        ({"field": "cc.address", "exists": True}, False),
    ],
)
def test_operator_semantics(condition: dict[str, Any], expected: bool) -> None:
    assert holds(condition, subject="Quarterly report") is expected


@pytest.mark.parametrize(
    ("value", "domain", "expected"),
    [
        ("user@example.com", "example.com", True),
        ("user@MAIL.Example.COM", "example.com", True),
        ("user@a.b.example.com", "example.com", True),
        ("user@badexample.com", "example.com", False),
        ("user@example.com.evil.net", "example.com", False),
        ("user@example.co", "example.com", False),
        ("user@example.com.", "example.com", True),
        ("example.com", "Example.Com.", True),
        ("", "example.com", False),
    ],
)
def test_domain_edges(value: str, domain: str, expected: bool) -> None:
    node = compile_condition({"field": "sender.address", "domain": domain})
    msg = message({}, fromEnv={"emailAddress": value} if value else {})
    assert node.test(Context(msg)) is expected


@pytest.mark.parametrize(
    ("ip", "network", "expected"),
    [
        ("10.1.2.3", "10.0.0.0/8", True),
        ("11.0.0.1", "10.0.0.0/8", False),
        ("10.0.0.0", "10.0.0.0/32", True),
        ("2001:db8::1", "2001:db8::/32", True),
        ("2001:DB8:0:0::1", "2001:db8::/32", True),
        ("2001:db9::1", "2001:db8::/32", False),
        ("::ffff:10.1.2.3", "10.0.0.0/8", True),  # IPv4-mapped IPv6 is the IPv4 sender
        ("10.1.2.3", "::/0", False),  # versions never mix
        ("not-an-ip", "0.0.0.0/0", False),
        ("[2001:db8::5]", "2001:db8::/64", True),
    ],
)
def test_cidr_edges(ip: str, network: str, expected: bool) -> None:
    node = compile_condition({"field": "sender.ip", "cidr": network})
    assert node.test(Context(message({}, senderIP=ip))) is expected


def test_ip_equality_normalises_forms() -> None:
    node = compile_condition({"field": "sender.ip", "equals": "2001:0db8:0000::0001"})
    assert node.test(Context(message({}, senderIP="2001:db8::1"))) is True


@pytest.mark.parametrize(
    ("condition", "needle"),
    [
        ({"field": "subject", "gt": 5}, "operator 'gt' does not apply to subject (text)"),
        ({"field": "spam.score", "contains": "5"}, "does not apply to spam.score (number)"),
        ({"field": "spam.score", "gt": "5"}, "expected a number, got '5'"),
        ({"field": "subject", "equals": True}, "expected text, got the boolean true"),
        ({"field": "greymail", "equals": "yes"}, "expected true or false"),
        ({"field": "subject", "in": []}, "an empty list never matches"),
        ({"field": "subject", "in": "x"}, "'in' needs a list"),
        ({"field": "subject", "contains": ""}, "empty text matches every value"),
        ({"field": "sender.ip", "cidr": "10.0.0.1/8"}, "is not a network"),
        ({"field": "sender.ip", "cidr": "banana"}, "is not a network"),
        ({"field": "sender.ip", "equals": "10.0.0.0/8"}, "is not an IP address"),
        ({"field": "sender.domain", "domain": "*.example.com"}, "is not a domain"),
        ({"field": "sender.domain", "domain": "a@example.com"}, "is an address, not a domain"),
        ({"field": "subject", "regex": "(?=x)"}, "uses a feature RE2 does not support"),
        ({"field": "subject", "regex": "(a)\\1"}, "uses a feature RE2 does not support"),
        ({"field": "subject", "regex": "(unclosed"}, "does not compile"),
        ({"field": "subject", "glob": "[z-a]"}, "glob '[z-a]' is invalid"),
        ({"field": "subject", "equals": "x", "elements": "all"}, "only applies to list fields"),
        ({"field": "subject", "contains": "x", "flags": ["dotall"]}, "only applies to 'regex'"),
        ({"field": "subject", "regex": "x", "flags": ["dotal"]}, "unknown regex flag"),
        ({"field": "spam.score", "gt": 1, "case_sensitive": True}, "has no effect"),
        ({"field": "received", "gt": "yesterday"}, "expected a timestamp"),
        ({"field": "exists", "exists": True}, "unknown field"),
        ({"field": "subject"}, "has no operator"),
        ({"field": "subject", "equals": "a", "contains": "b"}, "takes one operator"),
        ({"all": [], "field": "subject"}, "takes exactly one of"),
        ({"all": []}, "empty 'all'"),
        ({"any": []}, "empty 'any'"),
        ({"route": "inbound"}, ""),  # misspelt key: reported by the schema, not twice
    ],
)
def test_bad_conditions_are_reported(condition: dict[str, Any], needle: str) -> None:
    problems = condition_problems(condition)
    if not needle:
        assert problems == []
    else:
        assert any(needle in p for p in problems), problems


def test_regex_flags() -> None:
    multi = {"field": "subject", "regex": "^second", "flags": ["multiline"]}
    assert holds(multi, subject="first\nsecond") is True
    assert holds({"field": "subject", "regex": "^second"}, subject="first\nsecond") is False
    assert holds({"field": "subject", "regex": "first.second"}, subject="first\nsecond") is False
    dotall = {"field": "subject", "regex": "first.second", "flags": ["dotall"]}
    assert holds(dotall, subject="first\nsecond") is True


def test_time_comparisons_accept_yaml_dates_and_text() -> None:
    after = compile_condition({"field": "received", "gte": "2026-03-02T09:00:00Z"})
    before = compile_condition({"field": "received", "lt": "2026-03-02T09:00:00+0000"})
    msg = Context(message({}, received="2026-03-02T09:14:09+0000"))
    assert after.test(msg) is True and before.test(msg) is False
    hour = compile_condition({"field": "received.hour", "equals": 9})
    day = compile_condition({"field": "received.weekday", "equals": "Monday"})
    assert hour.test(msg) is True and day.test(msg) is True


@pytest.mark.parametrize(
    ("glob", "text", "expected"),
    [
        ("*.exe", "a.exe", True),
        ("*.exe", "a.exe.txt", False),
        ("file?.txt", "file1.txt", True),
        ("file?.txt", "file10.txt", False),
        ("[abc]*", "beta", True),
        ("[!abc]*", "beta", False),
        ("a.b", "axb", False),  # dots are literal
        ("a+b(c)", "a+b(c)", True),
        ("[", "[", True),
        ("*", "multi\nline", True),
    ],
)
def test_glob(glob: str, text: str, expected: bool) -> None:
    assert holds({"field": "subject", "glob": glob}, subject=text) is expected
    assert glob_to_regex(glob).startswith("(?s)")


@pytest.mark.timeout(60)
def test_catastrophic_regex_cannot_hang() -> None:
    """``(a+)+$`` backtracks exponentially in Python's re; RE2 is linear, input is cut.

    Backtracking would take longer than the age of the universe, so finishing
    at all (within the hang guard) is the proof; no speed is asserted.
    """
    node = compile_condition({"field": "subject", "regex": "(a+)+$"})
    evil = Context(message({}, subject="a" * (MAX_MATCH_INPUT - 1) + "!"))
    assert node.test(evil) is False
    assert node.test(Context(message({}, subject="a" * 1000))) is True


def test_match_input_is_cut_to_the_bound() -> None:
    node = compile_condition({"field": "subject", "regex": "needle"})
    late = "x" * MAX_MATCH_INPUT + "needle"
    early = "x" * (MAX_MATCH_INPUT - 6) + "needle"
    assert node.test(Context(message({}, subject=late))) is False
    assert node.test(Context(message({}, subject=early))) is True
