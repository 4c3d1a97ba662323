"""The ground truth: a simulated message as the rules should see it, built without parsing.

:mod:`render` writes a :class:`SimMessage` as Mimecast's JSON; the client
parses that JSON back. This module builds the same
:class:`~tagger.mimecast.models.Message` straight from what the simulator
knows — which components are real attachments, each address and its domain,
each check's result — so tests and benchmarks can compute the tags a correct
daemon applies without trusting the parser they are meant to check. Values
are normalised the way the models document (lower-case extensions and MIME
types, numbers as floats, empty texts as absent).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from typing import Any

from tagger.mimecast.models import (
    Address,
    AppliedTag,
    Attachment,
    CheckResult,
    Delivery,
    Message,
    MessageInfo,
    Policy,
    RiskItem,
    SpamInfo,
    TrackedEmail,
    Verdict,
)
from tagger.simulator import vocab as v
from tagger.simulator.records import Check, Party, Risk, SimMessage
from tagger.simulator.render import UNDELIVERED, components

__all__ = ["truth_info", "truth_message", "truth_summary"]


def _time(epoch: float) -> datetime:
    # Rendered to whole seconds, as the service does.
    return datetime.fromtimestamp(int(epoch), UTC)


def _addr(p: Party, names: bool) -> Address:
    return Address(p.email, p.name if names else "")


def truth_summary(m: SimMessage) -> TrackedEmail:
    """Return the search result of ``m`` as the rules should read it."""
    names = m.shape.search_names
    level = None if "detectionLevel" in m.nulls else m.detection_level
    return TrackedEmail(
        id=m.id,
        status=m.status,
        info=v.STATUS_INFO.get(m.status, m.status.title()),
        received=_time(m.received),
        sent=_time(m.sent),
        subject=m.subject,
        sender_ip=m.sender_ip,
        route=m.route,
        attachments=m.has_attachments,
        from_env=_addr(m.from_env, names),
        from_hdr=_addr(m.from_hdr, names),
        to=tuple(_addr(p, names) for p in m.to),
        spam_score=float(m.spam_score) if m.spam_score is not None else None,
        detection_level=level,
    )


def _check(c: Check) -> CheckResult:
    return CheckResult(allow=c.allow, info=c.info)


def _risk(r: Risk) -> RiskItem:
    return RiskItem(name=r.name, risk=r.risk, children=tuple(_risk(c) for c in r.children))


def _spam(m: SimMessage) -> SpamInfo:
    verdict = None
    if m.verdict is not None:
        verdict = Verdict(
            decision=m.verdict.decision,
            description=m.verdict.description,
            risk=m.verdict.risk,
            categories=tuple(_risk(c) for c in m.verdict.categories),
        )
    return SpamInfo(
        score=float(m.spam_score) if m.spam_score is not None else None,
        detection_level=None if "detectionLevel" in m.nulls else m.detection_level,
        grey_email=m.grey,
        rbl=_check(m.rbl),
        spf=_check(m.spf),
        dkim=_check(m.dkim),
        dmarc=_check(m.dmarc),
        permitted_sender=_check(m.permitted_sender),
        managed_sender=_check(m.managed_sender),
        verdict=verdict,
    )


def _components(m: SimMessage) -> tuple[tuple[Attachment, ...], tuple[Attachment, ...]]:
    """Return every component and the real attachments, from the simulator's own list."""
    out = []
    for i, c in enumerate(components(m)):
        real = i > len(m.shape.body_parts)  # after the transmission file and body parts
        out.append(
            Attachment(
                name=c["name"],
                extension=c["extension"].lower(),
                mime_type=c["mimeType"].lower(),
                size=float(c["size"]),
                type=c["type"] or "",
                hash=c["hash"],
                is_attachment=real,
            )
        )
    everything = tuple(out)
    return everything, tuple(a for a in everything if a.is_attachment)


def _deliveries(m: SimMessage) -> tuple[Delivery, ...]:
    if m.status in UNDELIVERED:
        return ()
    policies = tuple(Policy(p.type, p.name, p.inherited) for p in m.policies)
    if m.flat_delivery:
        return (Delivery("", m.route, policies),)
    # Keyed by recipient address: a recipient in both To and Cc is delivered once.
    recipients = dict.fromkeys(p.email for p in m.recipients)
    return tuple(Delivery(email, m.route, policies) for email in recipients)


def truth_info(m: SimMessage, tags: Sequence[Mapping[str, Any]] = ()) -> MessageInfo:
    """Return the message info of ``m`` (with the applied ``tags``) as the rules should read it."""
    everything, attachments = _components(m)
    holds: tuple[Mapping[str, Any], ...] = ()
    if m.litigation_hold:
        holds = ({"id": f"lh-{m.id[3:15]}", "description": m.litigation_hold, "expiry": None},)
    named = m.shape.display_to
    return MessageInfo(
        id=m.id,
        status=m.status,
        from_hdr=_addr(m.from_hdr, m.shape.display_from),
        from_env=Address(m.from_env.email),
        to=tuple(_addr(p, named) for p in m.to),
        cc=() if "cc" in m.nulls else tuple(_addr(p, named) for p in m.cc),
        subject=m.subject,
        sent=_time(m.sent),
        processed=_time(m.received + 1),
        remote_ip=m.sender_ip,
        remote_host=None if "remoteHost" in m.nulls else m.remote_host,
        size=float(m.body_size + sum(a.size for a in m.attachments)),
        components=everything,
        attachments=attachments,
        deliveries=_deliveries(m),
        spam=_spam(m),
        smart_tags=tuple(
            AppliedTag(
                id=str(t.get("id", "")), name=str(t.get("name", "")), path=str(t.get("path", ""))
            )
            for t in tags
        ),
        litigation_holds=holds,
    )


def truth_message(m: SimMessage, tags: Sequence[Mapping[str, Any]] = ()) -> Message:
    """Return ``m`` as the rules should see it: its search result and its message info."""
    return Message(truth_summary(m), truth_info(m, tags))
