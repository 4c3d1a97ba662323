"""Simulator mailbox: determinism, realistic variety, rule coverage and parseable shapes."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from tagger.mimecast.models import MessageInfo, TrackedEmail
from tagger.simulator import Simulator, SimulatorConfig

START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
INTERNAL = ("example.com", "corp.example.com")


def parsed(seed: int, n: int = 200) -> list[tuple[TrackedEmail, MessageInfo]]:
    sim = Simulator(SimulatorConfig(seed=seed, messages=n, start_time=START))
    out = []
    for m in sim.messages():
        summary = TrackedEmail.parse(sim.search_summary_json(m.id))
        info = MessageInfo.parse(sim.message_info_json(m.id))
        assert summary is not None and info is not None
        out.append((summary, info))
    return out


def test_same_seed_and_start_give_the_same_mailbox() -> None:
    config = SimulatorConfig(seed=7, messages=150, start_time=START)
    a, b = Simulator(config), Simulator(config)
    assert a.messages() == b.messages()
    first = a.messages()[42].id
    assert a.message_info_json(first) == b.message_info_json(first)
    other = Simulator(SimulatorConfig(seed=8, messages=150, start_time=START))
    assert {m.id for m in other.messages()}.isdisjoint({m.id for m in a.messages()})


def test_history_is_spread_over_the_hours_before_start() -> None:
    sim = Simulator(SimulatorConfig(messages=300, history_hours=6, start_time=START))
    times = [m.received for m in sim.messages()]
    assert times == sorted(times)
    start = START.timestamp()
    assert all(start - 6 * 3600 <= t < start for t in times)
    assert max(times) - min(times) > 5 * 3600
    assert len({m.id for m in sim.messages()}) == 300


def test_added_messages_are_deterministic_and_new() -> None:
    now = START.timestamp()
    a = Simulator(SimulatorConfig(messages=10, start_time=START), clock=lambda: now)
    b = Simulator(SimulatorConfig(messages=10, start_time=START), clock=lambda: now)
    new_a, new_b = a.add_messages(5), b.add_messages(5)
    assert new_a == new_b
    assert all(m.received == now for m in new_a)
    assert len(a.messages()) == 15 and a.messages()[-5:] == new_a


Rule = Callable[[TrackedEmail, MessageInfo], bool]


def _ext(info: MessageInfo, exts: set[str]) -> bool:
    return any(a.extension in exts for a in info.attachments)


RULES: dict[str, Rule] = {
    "phishing": lambda s, i: (
        i.spam.verdict is not None
        and i.spam.verdict.risk == "high"
        and any(c is not None and c.info == "fail" for c in (i.spam.dmarc, i.spam.spf))
    ),
    "spoofed own domain": lambda s, i: (
        s.route == "inbound"
        and i.from_hdr.domain in INTERNAL
        and i.spam.dmarc is not None
        and i.spam.dmarc.info == "fail"
    ),
    "risky attachments": lambda s, i: _ext(i, {"exe", "js", "iso", "html", "vbs", "docm"}),
    "greymail": lambda s, i: bool(i.spam.grey_email),
    "high spam delivered": lambda s, i: (
        (s.spam_score or 0) >= 18 and s.status in ("archived", "delivery")
    ),
    "legal with attachments": lambda s, i: (
        any(t.email == "legal@example.com" for t in i.to) and bool(s.attachments)
    ),
    "finance with attachments": lambda s, i: (
        any(t.email == "finance@example.com" for t in i.to) and bool(s.attachments)
    ),
    "outbound sensitive files": lambda s, i: (
        s.route == "outbound" and _ext(i, {"csv", "pst", "sql", "kdbx", "7z", "zip"})
    ),
}


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_every_kind_of_rule_finds_matches_in_200_messages(seed: int) -> None:
    messages = parsed(seed)
    for name, rule in RULES.items():
        hits = sum(1 for s, i in messages if rule(s, i))
        assert 3 <= hits <= 80, f"{name}: {hits} matches"


def test_mailbox_has_realistic_variety() -> None:
    messages = parsed(1, 300)
    routes = [s.route for s, _ in messages]
    assert routes.count("inbound") > len(routes) / 2
    assert {"inbound", "outbound", "internal"} <= set(routes)
    statuses = [s.status for s, _ in messages]
    assert statuses.count("archived") > len(statuses) / 2
    assert {"held", "delivery"} <= set(statuses)
    assert any(s.sender_ip and ":" in s.sender_ip for s, _ in messages)  # some IPv6
    assert any(i.litigation_holds for _, i in messages)
    assert {i.spam.detection_level for _, i in messages} >= {"relaxed", "moderate", "aggressive"}
    assert any(i.spam.verdict is None for _, i in messages)
    assert any(i.remote_host is None for _, i in messages)
    raw = [i.raw for _, i in messages]
    keyed = [r for r in raw if r["deliveredMessage"] and "messageInfo" not in r["deliveredMessage"]]
    flat = [r for r in raw if r["deliveredMessage"] and "messageInfo" in r["deliveredMessage"]]
    assert len(keyed) > len(flat) > 0
    verdicts = [r["spamInfo"]["spamProcessingDetail"].get("verdict") for r in raw]
    assert any(v and "descision" in v for v in verdicts)
    assert any(v and "decision" in v for v in verdicts)


def test_message_info_components_and_deliveries() -> None:
    sim = Simulator(SimulatorConfig(seed=2, messages=100, start_time=START))
    with_files = next(
        m
        for m in sim.messages()
        if len(m.attachments) >= 1 and not m.flat_delivery and m.status == "archived"
    )
    raw = sim.message_info_json(with_files.id)
    components = raw["recipientInfo"]["recipientMetaInfo"]["components"]
    assert components[0]["type"] == "Email Transmission File"
    assert len(components) == 1 + len(with_files.shape.body_parts) + len(with_files.attachments)
    info = MessageInfo.parse(raw)
    assert info is not None
    assert [a.name for a in info.attachments] == [a.name for a in with_files.attachments]
    assert all(a.mime_type and a.size and a.hash for a in info.attachments)
    recipients = {p.email for p in with_files.to + with_files.cc}
    assert {d.recipient for d in info.deliveries} == recipients
    assert all(d.route == with_files.route and d.policies for d in info.deliveries)
