"""Property tests: logic laws, determinism, case folding, three-valued pre-filtering,
and that missing, null or mistyped message fields never crash evaluation."""

from __future__ import annotations

from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tagger.mimecast.models import Message, MessageInfo, TrackedEmail
from tagger.rules import evaluate, load_rules, prefilter, rule_outcome
from tagger.rules.context import Context
from tests.support.rules import RULES_DIR, compile_condition

RULESET = load_rules([RULES_DIR])

LEAVES: list[dict[str, Any]] = [
    {"field": "subject", "contains": "invoice"},
    {"field": "route", "equals": "inbound"},
    {"field": "spam.score", "gte": 5},
    {"field": "dmarc.result", "equals": "fail"},
    {"field": "sender.domain", "domain": "example.com"},
    {"field": "sender.ip", "cidr": "10.0.0.0/8"},
    {"field": "attachments.extension", "in": ["exe", "docm"]},
    {"field": "recipients.domain", "domain": "example.com", "elements": "all"},
    {"field": "verdict.risk", "exists": True},
    {"field": "greymail", "equals": True},
]

conditions = st.recursive(
    st.sampled_from(LEAVES),
    lambda inner: st.one_of(
        st.builds(lambda c: {"not": c}, inner),
        st.builds(lambda cs: {"all": cs}, st.lists(inner, min_size=1, max_size=3)),
        st.builds(lambda cs: {"any": cs}, st.lists(inner, min_size=1, max_size=3)),
    ),
    max_leaves=6,
)

# JSON that is shaped like Mimecast's but with any part missing, null or mistyped.
junk = st.one_of(
    st.none(), st.booleans(), st.integers(-5, 50), st.text(max_size=8), st.just([]), st.just({})
)
checks = st.one_of(
    junk,
    st.fixed_dictionaries(
        {},
        optional={
            "allow": st.one_of(st.booleans(), junk),
            "info": st.sampled_from(["fail", "allow", "none", "unknown", "", None]),
        },
    ),
)
addresses = st.sampled_from(
    ["a@example.com", "b@mail.example.com", "c@evil.net", "Ann <x@y>", "", "@", "nope"]
)
components = st.lists(
    st.one_of(
        junk,
        st.fixed_dictionaries(
            {},
            optional={
                "type": st.sampled_from(["attachment", "body", None]),
                "name": st.one_of(junk, st.sampled_from(["a.exe", "b.PDF", "c.docm", "x"])),
                "extension": st.one_of(junk, st.sampled_from(["exe", "pdf"])),
                "size": junk,
            },
        ),
    ),
    max_size=3,
)
infos = st.fixed_dictionaries(
    {"id": st.just("m1")},
    optional={
        "status": junk,
        "recipientInfo": st.one_of(
            junk,
            st.fixed_dictionaries(
                {},
                optional={
                    "messageInfo": st.one_of(
                        junk,
                        st.fixed_dictionaries(
                            {},
                            optional={
                                "fromHeader": st.one_of(junk, addresses),
                                "fromEnvelope": st.one_of(junk, addresses),
                                "to": st.one_of(
                                    junk, st.lists(st.one_of(addresses, junk), max_size=3)
                                ),
                                "cc": st.one_of(junk, st.lists(addresses, max_size=2)),
                                "subject": st.one_of(
                                    junk, st.sampled_from(["Invoice due", "hello"])
                                ),
                                "processed": st.one_of(junk, st.just("2026-03-02T09:14:09+0000")),
                            },
                        ),
                    ),
                    "recipientMetaInfo": st.one_of(
                        junk,
                        st.fixed_dictionaries(
                            {},
                            optional={
                                "remoteIp": st.one_of(
                                    junk, st.sampled_from(["10.1.1.1", "2001:db8::1", "x"])
                                ),
                                "components": st.one_of(junk, components),
                                "transmissionSize": junk,
                            },
                        ),
                    ),
                },
            ),
        ),
        "deliveredMessage": st.one_of(
            junk,
            st.dictionaries(
                addresses,
                st.one_of(
                    junk,
                    st.just(
                        {"messageInfo": {"route": "outbound"}, "policyInfo": [{"policyName": "P"}]}
                    ),
                ),
                max_size=2,
            ),
        ),
        "spamInfo": st.one_of(
            junk,
            st.fixed_dictionaries(
                {},
                optional={
                    "spamScore": junk,
                    "spamProcessingDetail": st.one_of(
                        junk,
                        st.fixed_dictionaries(
                            {},
                            optional={
                                "greyEmail": junk,
                                "spf": checks,
                                "dkim": checks,
                                "dmarc": checks,
                                "permittedSender": checks,
                                "verdict": st.one_of(
                                    junk,
                                    st.fixed_dictionaries(
                                        {},
                                        optional={
                                            "decision": junk,
                                            "risk": st.sampled_from(["high", "low", None]),
                                            "categories": st.one_of(
                                                junk,
                                                st.lists(
                                                    st.one_of(
                                                        junk,
                                                        st.fixed_dictionaries(
                                                            {
                                                                "name": st.sampled_from(
                                                                    ["phishing", "spam"]
                                                                )
                                                            }
                                                        ),
                                                    ),
                                                    max_size=2,
                                                ),
                                            ),
                                        },
                                    ),
                                ),
                            },
                        ),
                    ),
                },
            ),
        ),
        "retentionInfo": st.one_of(
            junk,
            st.fixed_dictionaries(
                {},
                optional={
                    "smartTags": st.one_of(
                        junk,
                        st.lists(
                            st.one_of(junk, st.just({"id": "t1", "path": "Mail/Bulk"})), max_size=2
                        ),
                    ),
                    "litigationHoldInfo": st.one_of(junk, st.just([{"id": "h"}])),
                },
            ),
        ),
    },
)
summaries = st.fixed_dictionaries(
    {"id": st.just("m1")},
    optional={
        "route": st.one_of(junk, st.sampled_from(["inbound", "outbound", "internal"])),
        "status": st.one_of(junk, st.sampled_from(["delivery", "archived"])),
        "attachments": junk,
        "subject": st.one_of(junk, st.sampled_from(["Invoice due", "hello"])),
        "senderIP": st.one_of(junk, st.sampled_from(["10.1.1.1", "192.0.2.1", "::1"])),
        "spamScore": junk,
        "fromEnv": st.one_of(junk, st.fixed_dictionaries({"emailAddress": addresses})),
        "fromHdr": st.one_of(junk, st.fixed_dictionaries({"emailAddress": addresses})),
        "to": st.one_of(junk, st.lists(st.fixed_dictionaries({"emailAddress": addresses}))),
    },
)


def build(info: dict[str, Any], summary: dict[str, Any]) -> Message:
    tracked = TrackedEmail.parse(summary)
    assert tracked is not None
    return Message(tracked, MessageInfo.parse(info))


messages = st.builds(build, infos, summaries)
SETTINGS = settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def outcome(condition: dict[str, Any], msg: Message) -> bool | None:
    return compile_condition(condition).test(Context(msg))


@SETTINGS
@given(messages)
def test_shipped_rules_never_crash_and_are_deterministic(msg: Message) -> None:
    first = evaluate(RULESET, msg)
    second = evaluate(RULESET, msg)
    assert [(d.rule_id, d.tags, d.explanation.to_dict()) for d in first] == [
        (d.rule_id, d.tags, d.explanation.to_dict()) for d in second
    ]
    for rule in RULESET.rules:
        assert prefilter(rule, msg.summary) in (True, False, None)


@SETTINGS
@given(conditions, messages)
def test_double_negation(condition: dict[str, Any], msg: Message) -> None:
    assert outcome({"not": {"not": condition}}, msg) == outcome(condition, msg)


@SETTINGS
@given(st.lists(conditions, min_size=1, max_size=3), messages)
def test_de_morgan(parts: list[dict[str, Any]], msg: Message) -> None:
    negated = [{"not": p} for p in parts]
    assert outcome({"not": {"all": parts}}, msg) == outcome({"any": negated}, msg)
    assert outcome({"not": {"any": parts}}, msg) == outcome({"all": negated}, msg)


@SETTINGS
@given(conditions, conditions, messages)
def test_all_any_laws(a: dict[str, Any], b: dict[str, Any], msg: Message) -> None:
    assert outcome({"all": [a]}, msg) == outcome(a, msg) == outcome({"any": [a]}, msg)
    assert outcome({"all": [a, b]}, msg) == outcome({"all": [b, a]}, msg)
    assert outcome({"any": [a, b]}, msg) == outcome({"any": [b, a]}, msg)
    assert outcome({"all": [a, {"any": [a, b]}]}, msg) == outcome(a, msg)  # absorption
    assert outcome({"any": [a, {"not": a}]}, msg) is True  # excluded middle with info
    assert outcome({"all": [a, a]}, msg) == outcome(a, msg)


@SETTINGS
@given(conditions, messages)
def test_three_valued_prefilter_is_sound(condition: dict[str, Any], msg: Message) -> None:
    """Without info the result is either the full result or unknown, never a wrong answer."""
    partial = outcome(condition, Message(msg.summary, None))
    full = outcome(condition, msg)
    assert full in (True, False)
    assert partial is None or partial == full


@SETTINGS
@given(messages)
def test_prefilter_agrees_with_the_full_evaluation(msg: Message) -> None:
    for rule in RULESET.rules:
        early = prefilter(rule, msg.summary)
        assert early is None or early == rule_outcome(rule, msg)


@SETTINGS
@given(st.text(min_size=1, max_size=12), st.randoms(use_true_random=False))
def test_case_folding(text: str, rnd: Any) -> None:
    flipped = "".join(c.upper() if rnd.random() < 0.5 else c.lower() for c in text)
    msg = Message(TrackedEmail("m1", subject=flipped), None)
    if flipped.casefold() != text.casefold():
        return  # some characters change under upper/lower (e.g. 'ß' -> 'SS')
    assert outcome({"field": "subject", "equals": text}, msg) is True
    assert outcome({"field": "subject", "contains": text}, msg) is True
    sensitive = outcome({"field": "subject", "equals": text, "case_sensitive": True}, msg)
    assert sensitive is (flipped == text)


def test_unknown_logic_is_kleene() -> None:
    no_info = Message(TrackedEmail("m1", route="inbound"), None)
    unknown = {"field": "dmarc.result", "equals": "fail"}
    false = {"field": "route", "equals": "outbound"}
    true = {"field": "route", "equals": "inbound"}
    assert outcome(unknown, no_info) is None
    assert outcome({"not": unknown}, no_info) is None
    assert outcome({"all": [unknown, false]}, no_info) is False
    assert outcome({"all": [unknown, true]}, no_info) is None
    assert outcome({"any": [unknown, true]}, no_info) is True
    assert outcome({"any": [unknown, false]}, no_info) is None
