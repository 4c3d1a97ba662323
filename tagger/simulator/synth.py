"""Deterministic synthetic messages: one seeded RNG per message.

Each message is drawn from a scenario ("profile") with realistic weights, so
that every kind of rule in a typical rule set (phishing, spoofing, risky
attachments, greymail, high spam delivered, legal/finance compliance,
outbound sensitive files) has matches in a few hundred messages. A message
depends only on ``(seed, stream, index, received)``: adding messages or
changing the late fraction never changes the others' content.
"""

from __future__ import annotations

import base64
import hashlib
import random
from collections.abc import Callable, Sequence
from typing import Any

from tagger.simulator import vocab as v
from tagger.simulator.records import (
    Check,
    Party,
    Risk,
    SimAttachment,
    SimMessage,
    SimPolicy,
    SimShape,
    SimVerdict,
)

Fields = dict[str, Any]

# Optional JSON fields that real data sometimes leaves null or out.
OPTIONAL_FIELDS = ("remoteHost", "cc", "detectionLevel", "purgeDates", "transmissionInfo")


def message_rng(seed: int, stream: str, index: int) -> random.Random:
    """Return the RNG of one message (string seeds hash with SHA-512: stable across runs)."""
    return random.Random(f"tagger-sim:{seed}:{stream}:{index}")


def make_id(seed: int, stream: str, index: int) -> str:
    """Return an opaque Mimecast-style message ID for one message."""
    digest = hashlib.blake2b(f"{seed}:{stream}:{index}".encode(), digest_size=33).digest()
    return "eNq" + base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


# Plain float draws: several times cheaper than randrange/randint, and just as deterministic.
def _pick(rng: random.Random, items: Sequence[Any]) -> Any:
    return items[int(rng.random() * len(items))]


def _int(rng: random.Random, low: int, high: int) -> int:
    return low + int(rng.random() * (high - low + 1))


def _user(rng: random.Random) -> Party:
    local, name = _pick(rng, v.USERS)
    domain = v.SUBSIDIARY_DOMAIN if rng.random() < 0.2 else v.INTERNAL_DOMAIN
    return Party(f"{local}@{domain}", name)


def _group(group: tuple[str, str]) -> Party:
    return Party(f"{group[0]}@{v.INTERNAL_DOMAIN}", group[1])


def _external(rng: random.Random, domains: Sequence[str], people: Sequence[Any]) -> Party:
    local, name = _pick(rng, people)
    return Party(f"{local}@{_pick(rng, domains)}", name)


def _org(domain: str) -> str:
    return domain.split(".")[0].replace("-", " ").title()


def _subject(rng: random.Random, templates: Sequence[str], org: str) -> str:
    template: str = _pick(rng, templates)
    return template.format(
        n=_int(rng, 1000, 99999),
        q=_int(rng, 1, 4),
        org=org,
        month=_pick(rng, v.MONTHS),
        year=_pick(rng, (2025, 2026)),
    )


def _attachment(rng: random.Random, ext: str, stem: str) -> SimAttachment:
    big = ext in ("pst", "iso")
    size = _int(rng, 5_000_000, 90_000_000) if big else _int(rng, 2_000, 4_000_000)
    return SimAttachment(
        name=f"{stem}.{ext}",
        extension=ext,
        mime_type=v.MIME_TYPES[ext],
        size=size,
        hash=f"{rng.getrandbits(256):064x}",
    )


def _attachments(
    rng: random.Random, exts: Sequence[str], stem: str, count: int
) -> tuple[SimAttachment, ...]:
    return tuple(_attachment(rng, _pick(rng, exts), f"{stem}_{i + 1}") for i in range(count))


def _ip_external(rng: random.Random, shady: bool = False) -> str:
    if rng.random() < 0.12:
        return f"2001:db8:{_int(rng, 1, 0xFFFF):x}::{_int(rng, 1, 0xFFFF):x}"
    net = "192.0.2" if shady else _pick(rng, ("203.0.113", "198.51.100"))
    return f"{net}.{_int(rng, 1, 254)}"


def _status(rng: random.Random, weights: Sequence[tuple[str, int]]) -> str:
    names = [n for n, _ in weights]
    return rng.choices(names, [w for _, w in weights])[0]


NORMAL = (("archived", 85), ("delivery", 7), ("deferred", 2), ("bounced", 2), ("accepted", 2))
THREAT = (("archived", 45), ("held", 30), ("rejected", 15), ("delivery", 10))

INBOUND_POLICIES = (
    SimPolicy("Spam Scanning", "Default Spam Scanning Definition", True),
    SimPolicy("Anti-Spoofing", "Anti-Spoofing - Inbound", False),
    SimPolicy("URL Protection", "TTP URL Protect - Default", True),
    SimPolicy("Attachment Protection", "TTP Attachment Protect - Safe File", True),
)
OUTBOUND_POLICIES = (
    SimPolicy("Content Examination", "DLP - Outbound sensitive files", False),
    SimPolicy("Secure Messaging", "Secure Messaging - Default", True),
)
INTERNAL_POLICIES = (SimPolicy("Journaling", "Internal journaling", True),)


def _inbound(rng: random.Random, sender: Party, subject: str, shady: bool = False) -> Fields:
    """Return the fields of a benign inbound message from ``sender`` (profiles adjust them)."""
    return {
        "route": "inbound",
        "status": _status(rng, NORMAL),
        "from_env": sender,
        "from_hdr": sender,
        "to": (_user(rng),) + ((_user(rng),) if rng.random() < 0.2 else ()),
        "cc": (_user(rng),) if rng.random() < 0.15 else (),
        "subject": subject,
        "sender_ip": _ip_external(rng, shady),
        "remote_host": f"mail{_int(rng, 1, 9)}.{sender.domain}",
        "attachments": (),
        "urls": (f"https://www.{sender.domain}/",),
        "spam_score": _int(rng, 0, 4),
        "detection_level": rng.choices(v.DETECTION_LEVELS, (3, 6, 1))[0],
        "grey": False,
        "rbl": v.RBL_CLEAN,
        "spf": v.PASS,
        "dkim": v.PASS if rng.random() < 0.9 else v.NONE,
        "dmarc": v.PASS if rng.random() < 0.9 else v.NONE,
        "permitted_sender": v.NO_MATCH,
        "managed_sender": v.MATCHED if rng.random() < 0.1 else v.NO_MATCH,
        "verdict": None if rng.random() < 0.5 else SimVerdict("clean", "", "negligible"),
        "policies": INBOUND_POLICIES[: _int(rng, 1, 4)],
    }


def _verdict(rng: random.Random, decision: str, text: str, risk: str, *cats: Risk) -> SimVerdict:
    return SimVerdict(decision, text, risk, cats, misspelt=rng.random() < 0.2)


def _business(rng: random.Random) -> Fields:
    sender = _external(rng, v.PARTNER_DOMAINS, v.PARTNER_PEOPLE)
    f = _inbound(rng, sender, _subject(rng, v.BUSINESS_SUBJECTS, _org(sender.domain)))
    if rng.random() < 0.55:
        f["attachments"] = _attachments(rng, v.BENIGN_EXTENSIONS, "document", _int(rng, 1, 2))
    f["urls"] = (f"https://portal.{sender.domain}/orders/{_int(rng, 100, 999)}",)
    return f


def _newsletter(rng: random.Random) -> Fields:
    sender = _external(rng, v.NEWSLETTER_DOMAINS, v.BULK_SENDERS)
    f = _inbound(rng, sender, _subject(rng, v.NEWSLETTER_SUBJECTS, _org(sender.domain)))
    f["grey"] = True
    f["spam_score"] = _int(rng, 4, 14)
    f["urls"] = (f"https://{sender.domain}/unsubscribe?u={rng.getrandbits(32):x}",)
    grey = Risk("graymail", "low", (Risk("newsletter", "low"),))
    f["verdict"] = None if rng.random() < 0.3 else _verdict(rng, "graymail", "Bulk", "low", grey)
    return f


def _notification(rng: random.Random) -> Fields:
    sender = Party(f"noreply@{_pick(rng, v.PARTNER_DOMAINS)}", "Notifications")
    f = _inbound(rng, sender, "Password reset requested for your account")
    f["urls"] = (f"https://login.{sender.domain}/reset?t={rng.getrandbits(40):x}",)
    return f


def _phishing(rng: random.Random) -> Fields:
    sender = _external(rng, v.PHISH_DOMAINS, v.SHADY_SENDERS)
    f = _inbound(rng, sender, _subject(rng, v.PHISH_SUBJECTS, "Account"), shady=True)
    f.update(
        status=_status(rng, THREAT),
        remote_host=f"vps-{_int(rng, 10, 999)}.cheap-hosting.xyz",
        urls=(f"http://{sender.domain}/login/verify?id={rng.getrandbits(32):x}",),
        spam_score=_int(rng, 8, 30),
        spf=v.FAIL if rng.random() < 0.8 else v.NONE,
        dkim=v.FAIL if rng.random() < 0.5 else v.NONE,
        dmarc=v.FAIL if rng.random() < 0.85 else v.UNKNOWN,
        rbl=v.RBL_LISTED if rng.random() < 0.4 else v.RBL_CLEAN,
        managed_sender=v.NO_MATCH,
    )
    if rng.random() < 0.3:
        f["attachments"] = (_attachment(rng, "html", "secure_message"),)
    look = Risk("lookalike_domain", "high")
    cat = Risk("phishing", "high", (Risk("credential_theft", "high", (look,)),))
    risk = "high" if rng.random() < 0.85 else "low"
    f["verdict"] = _verdict(rng, "spam", "Credential phishing", risk, cat)
    return f


def _spoof(rng: random.Random) -> Fields:
    local, name = _pick(rng, [u for u in v.USERS if u[0] in ("ceo", "cfo")])
    boss = Party(f"{local}@{v.INTERNAL_DOMAIN}", name)
    f = _inbound(rng, boss, _pick(rng, v.SPOOF_SUBJECTS), shady=True)
    f.update(
        status=_status(rng, THREAT),
        from_env=Party(f"bounce{_int(rng, 1, 99)}@{_pick(rng, v.SPAM_DOMAINS)}"),
        to=(_group(v.AP_GROUP) if rng.random() < 0.3 else _user(rng),),
        spam_score=_int(rng, 5, 25),
        spf=v.FAIL,
        dmarc=v.FAIL,
        dkim=v.NONE,
        urls=(),
        managed_sender=v.NO_MATCH,
    )
    aug = (Risk("display_name_match", "high"), Risk("own_domain_spoof", "high"))
    cat = Risk("impersonation", "high", (Risk("internal_user_impersonation", "high", aug),))
    f["verdict"] = _verdict(rng, "spam", "Impersonation of an internal sender", "high", cat)
    return f


def _malware(rng: random.Random) -> Fields:
    shady = rng.random() < 0.6
    domains = v.PHISH_DOMAINS if shady else v.PARTNER_DOMAINS
    sender = _external(rng, domains, v.SHADY_SENDERS if shady else v.PARTNER_PEOPLE)
    f = _inbound(rng, sender, _subject(rng, v.MALWARE_SUBJECTS, ""), shady=shady)
    risky = _attachments(rng, v.RISKY_EXTENSIONS, "Scan", _int(rng, 1, 2))
    f.update(status=_status(rng, THREAT), attachments=risky, spam_score=_int(rng, 3, 20))
    if shady:
        f.update(spf=v.FAIL if rng.random() < 0.5 else v.NONE, dmarc=v.FAIL)
    sub = Risk("malicious_attachment", "high", (Risk("risky_file_type", "high"),))
    f["verdict"] = _verdict(
        rng, "spam", "Malicious attachment", "high", Risk("malware", "high", (sub,))
    )
    return f


def _spam_delivered(rng: random.Random) -> Fields:
    sender = _external(rng, v.SPAM_DOMAINS, v.BULK_SENDERS)
    f = _inbound(rng, sender, _pick(rng, v.SPAM_SUBJECTS), shady=True)
    f.update(
        status=_pick(rng, ("archived", "archived", "delivery")),
        spam_score=_int(rng, 18, 30),
        detection_level="relaxed",
        rbl=v.RBL_LISTED if rng.random() < 0.5 else v.RBL_CLEAN,
        spf=v.NONE if rng.random() < 0.5 else v.PASS,
        urls=(f"http://{sender.domain}/offer/{_int(rng, 1, 99)}",),
        permitted_sender=v.MATCHED if rng.random() < 0.3 else v.NO_MATCH,
    )
    cat = Risk("spam", "low", (Risk("bulk_spam", "low"),))
    f["verdict"] = _verdict(rng, "spam", "Spam", _pick(rng, ("low", "high")), cat)
    return f


def _compliance(rng: random.Random, group: tuple[str, str], domains: Sequence[str]) -> Fields:
    templates = v.LEGAL_SUBJECTS if group == v.LEGAL_GROUP else v.FINANCE_SUBJECTS
    if rng.random() < 0.25:  # internal traffic to the group
        sender = _user(rng)
        f = _internal(rng)
        f.update(from_env=sender, from_hdr=sender)
    else:
        sender = _external(rng, domains, v.PARTNER_PEOPLE)
        f = _inbound(rng, sender, "")
    f["to"] = (_group(group),) + ((_user(rng),) if rng.random() < 0.3 else ())
    f["subject"] = _subject(rng, templates, _org(sender.domain))
    if rng.random() < 0.8:
        f["attachments"] = _attachments(rng, v.COMPLIANCE_EXTENSIONS, "matter", _int(rng, 1, 3))
    return f


def _internal(rng: random.Random) -> Fields:
    sender = _user(rng)
    f = _inbound(rng, sender, _pick(rng, v.INTERNAL_SUBJECTS))
    f.update(
        route="internal",
        sender_ip=f"10.20.{_int(rng, 0, 40)}.{_int(rng, 1, 254)}",
        remote_host=f"exch{_int(rng, 1, 4)}.{v.INTERNAL_DOMAIN}",
        urls=(f"https://intranet.{v.INTERNAL_DOMAIN}/wiki/{_int(rng, 1, 500)}",),
        spam_score=0,
        verdict=None,
        policies=INTERNAL_POLICIES,
    )
    if rng.random() < 0.25:
        f["attachments"] = _attachments(rng, v.BENIGN_EXTENSIONS, "notes", 1)
    return f


def _outbound(rng: random.Random, sensitive: bool = False) -> Fields:
    f = _internal(rng)
    target = _external(rng, v.PARTNER_DOMAINS + v.AUDIT_DOMAINS, v.PARTNER_PEOPLE)
    templates = v.SENSITIVE_SUBJECTS if sensitive else v.OUTBOUND_SUBJECTS
    exts = v.SENSITIVE_EXTENSIONS if sensitive else v.BENIGN_EXTENSIONS
    count = _int(rng, 1, 2) if sensitive or rng.random() < 0.4 else 0
    f.update(
        route="outbound",
        to=(target,),
        subject=_subject(rng, templates, _org(target.domain)),
        attachments=_attachments(rng, exts, "export" if sensitive else "file", count),
        spam_score=None,
        detection_level=None,
        policies=OUTBOUND_POLICIES,
    )
    return f


def _shape(rng: random.Random, fields: Fields) -> SimShape:
    """Draw how a message is written in JSON, and let policy pass some failed checks.

    Uses its own RNG, so the message's content stays what it was before shapes
    were drawn. Updates ``fields`` in place: a failed SPF/DKIM/DMARC check is
    sometimes ``{"allow": true, "info": "fail"}``, as in real data, and a
    sender matching no permitted-sender entry sometimes ``{"allow": true,
    "info": "none"}``.
    """
    for check in ("spf", "dkim", "dmarc"):
        current: Check = fields[check]
        if current == v.FAIL and rng.random() < 0.35:
            fields[check] = v.FAIL_ALLOWED
    if fields["permitted_sender"] == v.NO_MATCH and rng.random() < 0.3:
        fields["permitted_sender"] = v.NONE  # let through by policy, matched no entry
    return SimShape(
        body_parts=_pick(rng, v.BODY_LAYOUTS),
        attachment_type=_pick(rng, v.ATTACHMENT_TYPES),
        display_from=rng.random() < 0.7,
        display_to=rng.random() < 0.2,
        search_names=rng.random() < 0.8,
        tx_info=rng.random() < 0.3,
    )


BUILDERS: dict[str, tuple[int, Callable[[random.Random], Fields]]] = {
    "business": (20, _business),
    "newsletter": (15, _newsletter),
    "notification": (4, _notification),
    "internal": (11, _internal),
    "outbound": (8, _outbound),
    "outbound_sensitive": (5, lambda rng: _outbound(rng, sensitive=True)),
    "phishing": (8, _phishing),
    "spoof": (4, _spoof),
    "malware": (6, _malware),
    "spam_delivered": (5, _spam_delivered),
    "legal": (7, lambda rng: _compliance(rng, v.LEGAL_GROUP, v.LAW_DOMAINS)),
    "finance": (7, lambda rng: _compliance(rng, v.FINANCE_GROUP, v.AUDIT_DOMAINS)),
}
_NAMES = tuple(BUILDERS)
_WEIGHTS = tuple(w for w, _ in BUILDERS.values())


def generate(
    seed: int, stream: str, index: int, received: float, late_fraction: float, late_delay_s: float
) -> SimMessage:
    """Return message ``index`` of ``stream``, received at ``received`` (epoch seconds).

    With probability ``late_fraction`` it is indexed for search only
    ``late_delay_s`` seconds after it was received.
    """
    rng = message_rng(seed, stream, index)
    late = rng.random() < late_fraction  # drawn first: the content never depends on it
    profile = rng.choices(_NAMES, _WEIGHTS)[0]
    fields = BUILDERS[profile][1](rng)
    sender: Party = fields["from_env"]
    hold = None
    if profile in ("legal", "finance") and rng.random() < 0.25:
        hold = f"Matter {_int(rng, 2020, 2026)}-{_int(rng, 1, 99):03d}"
    nulls = frozenset(name for name in OPTIONAL_FIELDS if rng.random() < 0.08)
    shape = _shape(message_rng(seed, f"{stream}:shape", index), fields)
    return SimMessage(
        id=make_id(seed, stream, index),
        message_id=f"<{rng.getrandbits(64):016x}.{index}@{sender.domain}>",
        profile=profile,
        received=received,
        indexed=received + late_delay_s if late else received,
        sent=received - _int(rng, 1, 90),
        body_size=_int(rng, 1_500, 120_000),
        flat_delivery=rng.random() < 0.15,
        litigation_hold=hold,
        nulls=nulls,
        shape=shape,
        **fields,
    )
