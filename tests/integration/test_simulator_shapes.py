"""The simulator writes real Mimecast shapes, and the client reads them as the simulator meant.

The simulator's ground truth (:mod:`tagger.simulator.truth`) is built from what
it knows about each message, never by parsing its JSON; the client's parse of
the JSON must equal it exactly, field for field.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from tagger.mimecast.models import Message, MessageInfo, TrackedEmail
from tagger.rules import evaluate, load_rules
from tagger.rules.context import Context
from tagger.rules.fields import FIELDS
from tagger.simulator import Simulator, SimulatorConfig
from tagger.simulator.truth import truth_info, truth_message, truth_summary

START = datetime(2026, 11, 23, 12, 0, tzinfo=UTC)
ROOT_RULES = Path(__file__).resolve().parents[2] / "rules"


def mailbox(seed: int, n: int = 300) -> Simulator:
    return Simulator(SimulatorConfig(seed=seed, messages=n, start_time=START))


def infos(sim: Simulator) -> list[dict[str, Any]]:
    return [sim.message_info_json(m.id) for m in sim.messages()]


def test_default_mailbox_has_the_real_shapes() -> None:
    sim = mailbox(1)
    raw = infos(sim)
    # Every message lists its transmission file and body parts; none has messageInfo.attachments.
    for item in raw:
        types = [c["type"] for c in item["recipientInfo"]["recipientMetaInfo"]["components"]]
        assert types[0] == "Email Transmission File"
        assert "attachments" not in item["recipientInfo"]["messageInfo"]
        assert item["retentionInfo"]["purgeBasedOn"] == "original"
    plain_txt = [
        c
        for item in raw
        for c in item["recipientInfo"]["recipientMetaInfo"]["components"]
        if c["name"] == "body.txt"
    ]
    assert plain_txt and all(c["extension"] == "htm" for c in plain_txt)  # sic, as real data
    details = [item["spamInfo"]["spamProcessingDetail"] for item in raw]
    checks = [d[k] for d in details for k in ("spf", "dkim", "dmarc")]
    assert {"allow": True, "info": "fail"} in checks  # allow and info disagree
    assert {"allow": False, "info": "fail"} in checks
    verdicts = [d["verdict"] for d in details if "verdict" in d]
    spelt = sum("decision" in vd for vd in verdicts)
    assert spelt > sum("descision" in vd for vd in verdicts) > 0
    assert all(isinstance(vd["symbolGroups"], list) for vd in verdicts)
    assert any("txInfo" in item for item in raw) and not all("txInfo" in item for item in raw)
    held = [item for item in raw if item["status"] == "held"]
    assert held and all("queueInfo" in item for item in held)
    headers = [item["recipientInfo"]["messageInfo"]["fromHeader"] for item in raw]
    assert any(h.startswith('"') and h.endswith(">") for h in headers)
    keyed = [item["deliveredMessage"] for item in raw if item["deliveredMessage"]]
    assert any("@" in key for d in keyed for key in d)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_parsed_messages_equal_the_simulators_ground_truth(seed: int) -> None:
    sim = mailbox(seed)
    for m in sim.messages():
        tags = sim.message_info_json(m.id)["retentionInfo"]["smartTags"]
        assert TrackedEmail.parse(sim.search_summary_json(m.id)) == truth_summary(m), m.id
        assert MessageInfo.parse(sim.message_info_json(m.id)) == truth_info(m, tags), m.id


def test_ground_truth_attachments_are_the_simulators_files() -> None:
    for m in mailbox(2).messages():
        info = truth_info(m)
        assert [a.name for a in info.attachments] == [a.name for a in m.attachments]
        assert len(info.components) == 1 + len(m.shape.body_parts) + len(m.attachments)
        assert info.from_hdr.domain == m.from_hdr.domain
        assert info.spam.spf is not None and info.spam.spf.info == m.spf.info


def test_every_field_and_every_rule_agree_with_the_ground_truth() -> None:
    sim = mailbox(3)
    rules = load_rules([ROOT_RULES])
    for m in sim.messages():
        truth = truth_message(m)
        summary = TrackedEmail.parse(sim.search_summary_json(m.id))
        assert summary is not None
        parsed = Message(summary, MessageInfo.parse(sim.message_info_json(m.id)))
        want, got = Context(truth), Context(parsed)
        for name in FIELDS:
            assert got.value(name) == want.value(name), (m.id, name)
        assert evaluate(rules, parsed) == evaluate(rules, truth)
