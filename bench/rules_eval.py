"""Benchmark rule evaluation: compiled rules against a naive YAML-walking interpreter.

Generates (with a seeded RNG) 100 varied, realistic rules and 10,000 synthetic
messages, loads the rules through the real loader, and times
``tagger.rules.evaluate`` over every message. It then times a
straightforward interpreter that walks each rule's YAML mapping for every
message (no compilation, no per-message field cache) and checks that both
agree on every (message, rule) outcome.

Prints message-x-rule evaluations per second for both and their ratio. Run
with ``make bench`` or ``python -m bench.rules_eval [--rules N] [--messages N]``.
"""

from __future__ import annotations

import argparse
import ipaddress
import random
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import re2
import yaml

from tagger.mimecast.models import Message, MessageInfo, TrackedEmail
from tagger.rules import evaluate, load_rules
from tagger.rules.context import Context
from tagger.rules.fields import FIELDS
from tagger.rules.model import RuleSet

OUR_DOMAIN = "example.com"
DOMAINS = [
    OUR_DOMAIN,
    "partner.example.net",
    "supplier.example.org",
    "paypa1-secure.net",
    "deals.example.info",
    "gmail.example",
    "lawfirm.example.net",
    "mailer.example.biz",
]
USERS = ["ann.lee", "bob.ng", "ap", "legal", "finance", "cfo", "ceo", "news", "orders", "it"]
EXTENSIONS = ["pdf", "docx", "xlsx", "csv", "docm", "exe", "js", "zip", "png", "sql", "iso"]
MIME = {"pdf": "application/pdf", "exe": "application/x-msdownload", "csv": "text/csv"}
WORDS = [
    "invoice",
    "urgent",
    "payment",
    "meeting",
    "report",
    "password",
    "reset",
    "offer",
    "contract",
    "backup",
    "wire",
    "transfer",
    "newsletter",
    "update",
    "account",
]
CHECKS = ["allow", "fail", "none", "unknown"]


# --- synthetic messages -------------------------------------------------------------------


def _address(rng: random.Random) -> str:
    return f"{rng.choice(USERS)}@{rng.choice(DOMAINS)}"


def _check(rng: random.Random) -> dict[str, Any]:
    info = rng.choices(CHECKS, weights=[8, 2, 1, 1])[0]
    return {"allow": info == "allow", "info": info}


def make_message(rng: random.Random, index: int) -> Message:
    """Return one synthetic message (search summary and message info)."""
    ident = f"eNo{index:012d}"
    sender, header = _address(rng), _address(rng)
    to = [_address(rng) for _ in range(rng.choice([1, 1, 1, 2, 3]))]
    route = rng.choice(["inbound", "inbound", "inbound", "outbound", "internal"])
    names = [
        f"{rng.choice(WORDS)}-{rng.randint(1, 999)}.{rng.choice(EXTENSIONS)}"
        for _ in range(rng.choice([0, 0, 1, 1, 2]))
    ]
    ip = f"{rng.choice(['198.51.100', '203.0.113', '192.0.2'])}.{rng.randint(1, 254)}"
    subject = " ".join(rng.choice(WORDS) for _ in range(rng.randint(2, 6))).capitalize()
    score = rng.choice([0, 0, 1, 2, 3, 5, 8, 12, 20, 30])
    verdict = {
        "decision": "spam" if score > 10 else "",
        "risk": rng.choice(["negligible", "low", "high"]),
        "categories": [
            {"name": rng.choice(["phishing", "spam", "impersonation", "malware"]), "risk": "high"}
        ],
    }
    info = {
        "id": ident,
        "status": "delivery",
        "retentionInfo": {"smartTags": [], "litigationHoldInfo": []},
        "recipientInfo": {
            "messageInfo": {
                "fromHeader": header,
                "fromEnvelope": sender,
                "to": to,
                "subject": subject,
                "sent": "2026-03-02T09:14:05+0000",
            },
            "recipientMetaInfo": {
                "remoteIp": ip,
                "transmissionSize": rng.randint(2_000, 9_000_000),
                "components": [
                    {
                        "type": "attachment",
                        "name": n,
                        "extension": n.rsplit(".", 1)[1],
                        "mimeType": MIME.get(n.rsplit(".", 1)[1], ""),
                        "size": rng.randint(1_000, 5_000_000),
                    }
                    for n in names
                ],
            },
        },
        "deliveredMessage": {t: {"messageInfo": {"route": route}, "policyInfo": []} for t in to},
        "spamInfo": {
            "spamScore": score,
            "detectionLevel": "moderate",
            "spamProcessingDetail": {
                "greyEmail": rng.random() < 0.15,
                "spf": _check(rng),
                "dkim": _check(rng),
                "dmarc": _check(rng),
                "rbl": _check(rng),
                "verdict": verdict,
            },
        },
    }
    summary = {
        "id": ident,
        "status": "delivery",
        "route": route,
        "subject": subject,
        "senderIP": ip,
        "attachments": bool(names),
        "received": "2026-03-02T09:14:09+0000",
        "fromEnv": {"emailAddress": sender},
        "fromHdr": {"emailAddress": header},
        "to": [{"emailAddress": t} for t in to],
        "spamScore": score,
    }
    parsed_summary, parsed_info = TrackedEmail.parse(summary), MessageInfo.parse(info)
    assert parsed_summary is not None and parsed_info is not None
    return Message(parsed_summary, parsed_info)


# --- synthetic rules ----------------------------------------------------------------------


def _leaf(rng: random.Random) -> dict[str, Any]:
    makers: list[Callable[[], dict[str, Any]]] = [
        lambda: {"field": "dmarc.result", "equals": rng.choice(CHECKS)},
        lambda: {"field": "spf.result", "in": rng.sample(CHECKS, 2)},
        lambda: {"field": "sender.domain", "domain": rng.choice(DOMAINS)},
        lambda: {"field": "from.domain", "domain": rng.sample(DOMAINS, 2)},
        lambda: {"field": "recipients.domain", "domain": OUR_DOMAIN, "elements": "all"},
        lambda: {
            "field": "recipients.address",
            "in": [f"{u}@{OUR_DOMAIN}" for u in rng.sample(USERS, 3)],
        },
        lambda: {"field": "subject", "contains": rng.choice(WORDS)},
        lambda: {"field": "subject", "startswith": rng.choice(WORDS)},
        lambda: {
            "field": "subject",
            "regex": f"({rng.choice(WORDS)}|{rng.choice(WORDS)}) {rng.choice(WORDS)}",
        },
        lambda: {"field": "spam.score", rng.choice(["gt", "gte", "lt"]): rng.choice([3, 8, 15])},
        lambda: {"field": "verdict.risk", "equals": rng.choice(["low", "high"])},
        lambda: {
            "field": "verdict.categories",
            "in": rng.sample(["phishing", "spam", "malware"], 2),
        },
        lambda: {"field": "attachments.extension", "in": rng.sample(EXTENSIONS, 3)},
        lambda: {"field": "attachments.name", "endswith": f".{rng.choice(EXTENSIONS)}"},
        lambda: {"field": "sender.ip", "cidr": rng.choice(["198.51.100.0/24", "203.0.113.0/25"])},
        lambda: {"field": "greymail", "equals": True},
        lambda: {"field": "message.size", "gt": rng.choice([100_000, 1_000_000])},
        lambda: {"field": "attachments.present", "exists": True},
    ]
    return rng.choice(makers)()


def _fresh_leaf(rng: random.Random, used: set[str]) -> dict[str, Any]:
    """A leaf on a field not yet tested in this conjunction (so it is never contradictory)."""
    for _ in range(100):
        leaf = _leaf(rng)
        if leaf["field"] not in used:
            used.add(leaf["field"])
            return leaf
    raise RuntimeError("ran out of fields")


def _condition(rng: random.Random, depth: int, used: set[str]) -> dict[str, Any]:
    roll = rng.random()
    if depth >= 2 or roll < 0.45:
        return _fresh_leaf(rng, used)
    if roll < 0.55:
        return {"not": _fresh_leaf(rng, set())}
    if roll < 0.8:
        return {"all": [_condition(rng, depth + 1, used) for _ in range(rng.randint(2, 3))]}
    return {"any": [_condition(rng, depth + 1, set()) for _ in range(rng.randint(2, 3))]}


def make_rule(rng: random.Random, index: int) -> dict[str, Any]:
    """Return one synthetic rule mapping."""
    used = {"route"}
    rule: dict[str, Any] = {
        "id": f"rule-{index:03d}",
        "description": f"synthetic rule {index}",
        "priority": rng.randint(0, 100),
        "search": {"route": [rng.choice(["inbound", "outbound", "internal"])]},
        "match": {"all": [_condition(rng, 1, used) for _ in range(rng.randint(1, 3))]},
        "tags": [f"Bench/Tag {index}"],
    }
    if rng.random() < 0.3:
        rule["search"]["route"] = ["inbound", "outbound", "internal"]
    if rng.random() < 0.3:
        rule["unless"] = _leaf(rng)
    return rule


# --- the naive interpreter ----------------------------------------------------------------


def _naive_value(message: Message, name: str) -> Any:
    field = FIELDS[name]
    if field.base is not None and field.derive is not None:
        base = _naive_value(message, field.base)
        return None if base is None else field.derive(base)
    value = field.summary(message.summary) if field.summary else None
    if (value is None or value == ()) and field.info and message.info is not None:
        value = field.info(message.info)
    return value


def _naive_test(op: str, operand: Any, value: Any, cond: dict[str, Any]) -> bool:
    def fold(v: Any) -> Any:
        return v.casefold() if isinstance(v, str) else v

    many = operand if isinstance(operand, list) else [operand]
    if op == "equals":
        return bool(fold(value) == fold(operand))
    if op == "in":
        return fold(value) in [fold(o) for o in operand]
    if op == "contains":
        return any(fold(o) in fold(value) for o in many)
    if op == "startswith":
        return any(fold(value).startswith(fold(o)) for o in many)
    if op == "endswith":
        return any(fold(value).endswith(fold(o)) for o in many)
    if op == "regex":
        return any(re2.search("(?i)" + o, value) is not None for o in many)
    if op == "domain":
        dom = value.rpartition("@")[2].lower()
        return any(dom == d or dom.endswith("." + d) for d in many)
    if op == "cidr":
        return any(value in ipaddress.ip_network(n) for n in many)
    if op in ("gt", "gte", "lt", "lte"):
        return {
            "gt": value > operand,
            "gte": value >= operand,
            "lt": value < operand,
            "lte": value <= operand,
        }[op]
    raise ValueError(op)


def naive_condition(cond: dict[str, Any], message: Message, absent: bool = False) -> bool:
    """Evaluate a raw condition mapping by walking it (the baseline)."""
    if "all" in cond:
        return all(naive_condition(c, message) for c in cond["all"])
    if "any" in cond:
        return any(naive_condition(c, message) for c in cond["any"])
    if "not" in cond:
        return not naive_condition(cond["not"], message)
    field = FIELDS[cond["field"]]
    value = _naive_value(message, field.name)
    op = next(k for k in cond if k not in ("field", "elements", "case_sensitive", "flags"))
    if op == "exists":
        return (value is not None and value != ()) is cond[op]
    if value is None or value == ():
        return absent
    if not field.is_list:
        return _naive_test(op, cond[op], value, cond)
    hits = [_naive_test(op, cond[op], v, cond) for v in value]
    return all(hits) if cond.get("elements") == "all" else any(hits)


def naive_rule(rule: dict[str, Any], message: Message) -> bool:
    """Evaluate a raw rule mapping: search re-check, match, unless."""
    routes = rule["search"]["route"]
    search = {"field": "route", "in": routes}
    if not naive_condition(search, message, absent=True):
        return False
    if not naive_condition(rule["match"], message):
        return False
    return not ("unless" in rule and naive_condition(rule["unless"], message))


# --- the run ------------------------------------------------------------------------------


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rules", type=int, default=100)
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--seed", type=int, default=20260302)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    raw_rules = [make_rule(rng, i) for i in range(args.rules)]
    messages = [make_message(rng, i) for i in range(args.messages)]
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.yaml"
        path.write_text(yaml.safe_dump({"rules": raw_rules}, sort_keys=False), encoding="utf-8")
        started = time.perf_counter()
        ruleset: RuleSet = load_rules([path])
        load_s = time.perf_counter() - started
    evaluations = len(ruleset.rules) * len(messages)

    started = time.perf_counter()
    decisions = 0
    for message in messages:
        decisions += len(evaluate(ruleset, message))
    compiled_s = time.perf_counter() - started

    started = time.perf_counter()
    for message in messages:
        ctx = Context(message)
        for rule in ruleset.rules:
            rule.test(ctx)
    tests_s = time.perf_counter() - started

    started = time.perf_counter()
    naive_hits = [[naive_rule(rule, m) for rule in raw_rules] for m in messages]
    naive_s = time.perf_counter() - started

    by_id = {r.id: r for r in ruleset.rules}
    mismatches = 0
    for message, hits in zip(messages, naive_hits, strict=True):
        ctx = Context(message)
        for rule, hit in zip(raw_rules, hits, strict=True):
            mismatches += (by_id[rule["id"]].test(ctx) is True) != hit
    compiled_rate, naive_rate = evaluations / compiled_s, evaluations / naive_s
    print(
        f"python {sys.version.split()[0]}, one core; {len(ruleset.rules)} rules "
        f"(loaded in {load_s * 1000:.0f} ms) x {len(messages)} messages = {evaluations} "
        f"evaluations, {decisions} decisions"
    )
    print(f"compiled evaluate(): {compiled_s:.2f} s, {compiled_rate:,.0f} evaluations/s")
    print(
        f"compiled rule tests alone (no decisions or explanations): "
        f"{evaluations / tests_s:,.0f} evaluations/s"
    )
    print(f"naive YAML walker:   {naive_s:.2f} s, {naive_rate:,.0f} evaluations/s")
    print(f"ratio: {compiled_rate / naive_rate:.1f}x; outcomes that disagree: {mismatches}")
    return 1 if mismatches else 0


if __name__ == "__main__":
    raise SystemExit(main())
