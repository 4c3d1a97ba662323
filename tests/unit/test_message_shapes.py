"""Reading real get-message-info and search shapes: components, address headers, checks."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from tagger.mimecast.models import Address, Message, MessageInfo, TrackedEmail
from tagger.rules import evaluate, load_rules
from tagger.rules.context import Context
from tagger.rules.messages import summary_from_info
from tests.support.rules import RULES_DIR, message, rule, ruleset_of

TRANSMISSION = {
    "type": "Email Transmission File",
    "name": "transmission.eml",
    "extension": "eml",
    "mimeType": "message/rfc822-stubbed",
    "size": 60211,
    "hash": "4c3b0bd0e6c9",
}
HTML = {
    "type": "Email Primary Body HTML",
    "name": "body.htm",
    "extension": "htm",
    "mimeType": "text/html",
    "size": 2211,
}
PLAIN = {
    "type": "Email Primary Body Plain Text",
    "name": "body.txt",
    "extension": "htm",
    "mimeType": "text/plain",
    "size": 911,
}
PART = {"type": "Email HTML Body Part", "name": "", "extension": "", "mimeType": "text/html"}
ZIP = {
    "type": "Email Attachment",
    "name": "invoice.zip",
    "extension": "zip",
    "mimeType": "application/zip",
    "size": 40100,
    "hash": "77aa",
}


def info_with(components: list[Any], **message_info: Any) -> MessageInfo:
    parsed = MessageInfo.parse(
        {
            "id": "m1",
            "recipientInfo": {
                "messageInfo": message_info,
                "recipientMetaInfo": {"components": components},
            },
        }
    )
    assert parsed is not None
    return parsed


def values(info: MessageInfo, *names: str) -> dict[str, Any]:
    """Return the named catalogue fields of ``info`` (summary synthesised from it)."""
    ctx = Context(Message(summary_from_info(info), info))
    return {name: ctx.value(name) for name in names}


# --- components ---------------------------------------------------------------------------


def test_body_parts_and_transmission_file_are_not_attachments() -> None:
    info = info_with([TRANSMISSION, HTML, PLAIN, PART, ZIP])
    got = values(
        info,
        "attachments.count",
        "attachments.extension",
        "attachments.name",
        "attachments.present",
        "components.type",
    )
    assert got["attachments.count"] == 1.0
    assert got["attachments.extension"] == ("zip",)
    assert got["attachments.name"] == ("invoice.zip",)
    assert got["attachments.present"] is True
    assert got["components.type"] == (
        "Email Transmission File",
        "Email Primary Body HTML",
        "Email Primary Body Plain Text",
        "Email HTML Body Part",
        "Email Attachment",
    )
    assert len(info.components) == 5


def test_a_message_without_files_has_no_attachments() -> None:
    info = info_with([TRANSMISSION, HTML, PLAIN])
    got = values(info, "attachments.count", "attachments.present", "attachments.extension")
    assert got == {
        "attachments.count": 0.0,
        "attachments.present": False,
        "attachments.extension": (),
    }


@pytest.mark.parametrize(
    ("component", "is_attachment"),
    [
        ({"type": "EMAIL TRANSMISSION FILE", "name": "transmission.eml"}, False),
        ({"type": "email primary body html"}, False),
        ({"type": None, "name": "transmission.eml", "extension": None}, False),
        ({"name": "BODY.HTM"}, False),
        ({"name": "body.txt", "extension": "htm", "mimeType": None}, False),
        ({"name": "body.html"}, False),
        ({"type": None, "name": None, "mimeType": "text/html"}, False),
        ({"type": "", "name": "", "mimeType": "message/rfc822-stubbed"}, False),
        ({}, False),
        ({"type": None, "name": None, "extension": None, "mimeType": None, "size": None}, False),
        ({"type": "Something New", "name": "report.pdf"}, True),
        ({"name": "Scan_0042.pdf.exe"}, True),
        ({"type": None, "name": "", "mimeType": "application/pdf"}, True),
        ({"type": "attachment", "name": "body.htm"}, True),
        ({"type": "Email Attachment", "name": "a"}, True),
        ("notes.docx", True),
    ],
)
def test_component_classification(component: Any, is_attachment: bool) -> None:
    info = info_with([component])
    assert len(info.attachments) == (1 if is_attachment else 0), component


@pytest.mark.parametrize("junk", [None, 7, "x", [], [None, 3, "body.htm"], {"a": 1}])
def test_junk_components_never_raise(junk: Any) -> None:
    MessageInfo.parse({"id": "m", "recipientInfo": {"recipientMetaInfo": {"components": junk}}})


def test_message_info_attachments_list_is_only_a_fallback() -> None:
    # Real messageInfo has no attachments list; when components exist they decide.
    both = info_with([TRANSMISSION, HTML], attachments=["stale.pdf"])
    assert both.attachments == ()
    legacy = info_with([], attachments=["old.pdf", {"name": "more.xlsx"}])
    assert [a.name for a in legacy.attachments] == ["old.pdf", "more.xlsx"]


# --- addresses ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("header", "email", "domain", "name"),
    [
        (
            '"Payroll Team" <payroll@examp1e-hr.com>',
            "payroll@examp1e-hr.com",
            "examp1e-hr.com",
            "Payroll Team",
        ),
        (
            "Payroll Team <payroll@Examp1e-HR.com>",
            "payroll@Examp1e-HR.com",
            "examp1e-hr.com",
            "Payroll Team",
        ),
        ('"Doe, John" <john@example.org>', "john@example.org", "example.org", "Doe, John"),
        (
            "=?utf-8?q?J=C3=B6rg_M=C3=BCller?= <jm@example.de>",
            "jm@example.de",
            "example.de",
            "Jörg Müller",
        ),
        ("alice@example.com", "alice@example.com", "example.com", ""),
        ("<alice@example.com>", "alice@example.com", "example.com", ""),
        ("alice@example.com (Alice)", "alice@example.com", "example.com", ""),
        ("Foo <foo@bar.example", "foo@bar.example", "bar.example", "Foo"),
        ("not an address", "", "", ""),
        ("MAILER-DAEMON", "MAILER-DAEMON", "", ""),  # kept as sent, but no domain
        ("user@example.com.", "user@example.com.", "example.com", ""),
        ("<>", "", "", ""),
        ("x@", "", "", ""),
        ("a@exa mple.com", "", "", ""),
        ("undisclosed-recipients:;", "", "", ""),
        ("", "", "", ""),
    ],
)
def test_address_headers(header: str, email: str, domain: str, name: str) -> None:
    addr = Address.parse(header)
    assert (addr.email, addr.domain, addr.name) == (email, domain, name)
    assert ">" not in addr.domain and " " not in addr.domain


def test_single_address_field_takes_the_first_real_address() -> None:
    addr = Address.parse("junk stuff, Bob <bob@example.net>, carol@example.org")
    assert addr.email == "bob@example.net"


def test_from_header_with_display_name_gives_the_right_domain() -> None:
    info = info_with(
        [],
        fromHeader='"Payroll Team" <payroll@examp1e-hr.com>',
        fromEnvelope="bounce+123@mailer.examp1e-hr.com",
    )
    got = values(info, "from.domain", "from.address", "from.name", "sender.domain")
    assert got == {
        "from.domain": "examp1e-hr.com",
        "from.address": "payroll@examp1e-hr.com",
        "from.name": "Payroll Team",
        "sender.domain": "mailer.examp1e-hr.com",
    }


def test_to_and_cc_headers_holding_lists() -> None:
    info = info_with(
        [],
        to=['"Doe, John" <john@example.org>, Ann <ann@example.com>', "bob@example.net"],
        cc='Carol <carol@example.com>, "x, y" <xy@example.com>',
    )
    assert [a.email for a in info.to] == ["john@example.org", "ann@example.com", "bob@example.net"]
    assert [a.email for a in info.cc] == ["carol@example.com", "xy@example.com"]
    assert info.to[0].name == "Doe, John"


def test_search_summary_addresses_as_strings_and_objects() -> None:
    summary = TrackedEmail.parse(
        {
            "id": "m",
            "fromHdr": '"Payroll Team" <payroll@examp1e-hr.com>',
            "fromEnv": {"emailAddress": "Bounce <b@mailer.example.net>"},
            "to": [
                "Ann <ann@example.com>, bob@example.com",
                {"emailAddress": "c@example.com", "displayableName": "C"},
            ],
        }
    )
    assert summary is not None
    assert summary.from_hdr.domain == "examp1e-hr.com" and summary.from_hdr.name == "Payroll Team"
    assert summary.from_env.email == "b@mailer.example.net"
    assert [a.email for a in summary.to] == ["ann@example.com", "bob@example.com", "c@example.com"]
    assert summary.to[2].name == "C"


@pytest.mark.parametrize("junk", [None, 3, [], {}, ["a"], {"emailAddress": 5}, "\x00<@>"])
def test_address_parsers_never_raise(junk: Any) -> None:
    Address.parse(junk)
    Address.parse_list(junk)


# --- sender checks: info is the result, allow the policy decision -------------------------


def test_spf_failed_matches_a_failed_check_the_policy_allowed(tmp_path: Path) -> None:
    ruleset = ruleset_of(
        tmp_path,
        [rule("spf-failed", {"field": "spf.result", "equals": "fail"}, description="SPF failed")],
    )
    spf = {"spamInfo": {"spamProcessingDetail": {"spf": {"allow": True, "info": "fail"}}}}
    assert [d.rule_id for d in evaluate(ruleset, message(spf, route="inbound"))] == ["spf-failed"]
    passed = {"spamInfo": {"spamProcessingDetail": {"spf": {"allow": False, "info": "allow"}}}}
    assert evaluate(ruleset, message(passed, route="inbound")) == ()


def test_shipped_phishing_rule_reads_the_permitted_sender_result() -> None:
    # The policy let the message through (allow: true) but it matched no permitted
    # sender (info: none): it is not the phishing-simulation vendor and must be tagged.
    detail = {
        "spf": {"allow": True, "info": "fail"},
        "dmarc": {"allow": True, "info": "fail"},
        "permittedSender": {"allow": True, "info": "none"},
        "verdict": {"decision": "spam", "risk": "high"},
    }
    info = {
        "recipientInfo": {"messageInfo": {"fromEnvelope": "a@paypa1-secure.net"}},
        "spamInfo": {"spamProcessingDetail": detail},
    }
    decisions = evaluate(load_rules([RULES_DIR]), message(info, route="inbound"))
    assert "phishing-suspect" in [d.rule_id for d in decisions]
    # A sender that really matched a permitted-sender entry is excepted.
    detail["permittedSender"] = {"allow": True, "info": "allow"}
    decisions = evaluate(load_rules([RULES_DIR]), message(info, route="inbound"))
    assert "phishing-suspect" not in [d.rule_id for d in decisions]
