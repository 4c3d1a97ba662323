"""The JSON shapes of message-finder results, built from :class:`SimMessage` records.

Shapes follow what real data looks like, not only the documentation:
``components[]`` lists the transmission file and the body parts besides the
attached files, and ``messageInfo`` has no ``attachments`` list; header
addresses carry display names (``"Name" <a@b>``); a check may say
``{"allow": true, "info": "fail"}``; ``deliveredMessage`` is usually keyed by
recipient address but sometimes flat; the verdict spells ``decision`` and
sometimes the documented ``descision``, with ``symbolGroups``; held mail has
``queueInfo`` and some messages ``txInfo``; optional fields are sometimes
null or absent.
"""

from __future__ import annotations

import html
import time
from collections.abc import Mapping, Sequence
from typing import Any

from tagger.simulator import vocab as v
from tagger.simulator.records import Check, Party, Risk, SimMessage, SimVerdict
from tagger.simulator.vocab import STATUS_INFO

JSON = dict[str, Any]

RETENTION_S = 7 * 365 * 86400
UNDELIVERED = ("held", "rejected", "bounced", "deferred")


def fmt(epoch: float) -> str:
    """Format epoch seconds as ``yyyy-MM-dd'T'HH:mm:ssZ`` (UTC)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(epoch))


def _party(p: Party, names: bool = True) -> JSON:
    """Return a search-result address; real results sometimes lack ``displayableName``."""
    if not names:
        return {"emailAddress": p.email}
    return {"emailAddress": p.email, "displayableName": p.name}


def header(p: Party, names: bool) -> str:
    """Return ``p`` as a header value: ``"Name" <a@b>`` with ``names`` and a name, else ``a@b``."""
    if not names or not p.name:
        return p.email
    quoted = p.name.replace("\\", "\\\\").replace('"', '\\"')
    return f'"{quoted}" <{p.email}>'


def tracked_email(m: SimMessage) -> JSON:
    """Return the ``trackedEmails[]`` item of a message."""
    item: JSON = {
        "id": m.id,
        "status": m.status,
        "info": _info(m.status),
        "received": fmt(m.received),
        "sent": fmt(m.sent),
        "subject": m.subject,
        "senderIP": m.sender_ip,
        "route": m.route,
        "attachments": m.has_attachments,
        "fromEnv": _party(m.from_env, m.shape.search_names),
        "fromHdr": _party(m.from_hdr, m.shape.search_names),
        "to": [_party(p, m.shape.search_names) for p in m.to],
    }
    if m.spam_score is not None:
        item["spamScore"] = m.spam_score
    if m.detection_level is not None and "detectionLevel" not in m.nulls:
        item["detectionLevel"] = m.detection_level
    return item


def _info(status: str) -> str:
    return STATUS_INFO.get(status, status.title())


def _check(c: Check) -> JSON:
    return {"allow": c.allow, "info": c.info}


def _risk(r: Risk, level: int) -> JSON:
    item: JSON = {"name": r.name, "risk": r.risk}
    if level == 0:
        item["subcategories"] = [_risk(c, 1) for c in r.children]
    elif level == 1:
        item["augmentations"] = [_risk(c, 2) for c in r.children]
    return item


def _verdict(vd: SimVerdict) -> JSON:
    key = "descision" if vd.misspelt else "decision"
    groups = v.SYMBOL_GROUPS[: 1 + len(vd.categories) + len(vd.description) % 3]
    return {
        key: vd.decision,
        "description": vd.description,
        "risk": vd.risk,
        "categories": [_risk(c, 0) for c in vd.categories],
        "symbolGroups": [{"name": g, "risk": vd.risk, "symbols": []} for g in groups],
    }


def spam_info(m: SimMessage) -> JSON:
    """Return the ``spamInfo`` object of a message."""
    detail: JSON = {
        "greyEmail": m.grey,
        "rbl": _check(m.rbl),
        "spf": _check(m.spf),
        "dkim": _check(m.dkim),
        "dmarc": _check(m.dmarc),
        "permittedSender": _check(m.permitted_sender),
        "managedSender": _check(m.managed_sender),
    }
    if m.verdict is not None:
        detail["verdict"] = _verdict(m.verdict)
    level = None if "detectionLevel" in m.nulls else m.detection_level
    return {"spamScore": m.spam_score, "detectionLevel": level, "spamProcessingDetail": detail}


def _part(kind: tuple[str, str, str, str], size: int, digest: str) -> JSON:
    type_, name, ext, mime = kind
    return {
        "type": type_,
        "name": name,
        "extension": ext,
        "mimeType": mime,
        "size": size,
        "hash": digest,
    }


def components(m: SimMessage) -> list[JSON]:
    """Return ``components[]``: the transmission file, the body parts, then the files."""
    total = m.body_size + sum(a.size for a in m.attachments)
    digest = m.id[-40:].lower()
    parts = [_part(v.TRANSMISSION, total, digest)]
    parts += [
        _part(v.BODY_PARTS[kind], m.body_size // (i + 1), digest[i + 1 :] + digest[: i + 1])
        for i, kind in enumerate(m.shape.body_parts)
    ]
    files = [
        {
            "type": m.shape.attachment_type or None,
            "name": a.name,
            "extension": a.extension,
            "mimeType": a.mime_type,
            "size": a.size,
            "hash": a.hash,
        }
        for a in m.attachments
    ]
    return [*parts, *files]


def _message_info(m: SimMessage, to: Sequence[Party], cc: bool) -> JSON:
    named = m.shape.display_to
    info: JSON = {
        "fromHeader": header(m.from_hdr, m.shape.display_from),
        "fromEnvelope": m.from_env.email,
        "to": [header(p, named) for p in to],
        "subject": m.subject,
        "sent": fmt(m.sent),
        "processed": fmt(m.received + 1),
        "route": m.route,
    }
    if cc and "cc" not in m.nulls:
        info["cc"] = [header(p, named) for p in m.cc]
    return info


def _delivered(m: SimMessage) -> JSON | None:
    if m.status in UNDELIVERED:
        return None if m.flat_delivery else {}
    policies = [
        {"policyType": p.type, "policyName": p.name, "inherited": p.inherited} for p in m.policies
    ]
    if m.flat_delivery:
        return {
            "messageInfo": _message_info(m, m.recipients, True),
            "policyInfo": policies,
            "recipientMetaInfo": {"remoteIp": m.sender_ip, "transmissionSize": m.body_size},
        }
    out: JSON = {}
    for rcpt in m.recipients:
        internal = m.route != "outbound"
        out[rcpt.email] = {
            "messageInfo": _message_info(m, (rcpt,), False),
            "policyInfo": policies,
            "deliveryMetaInfo": {
                "deliveryEvent": "Delivered",
                "emailAddress": rcpt.email,
                "remoteHost": "exch1.example.com" if internal else f"mx.{rcpt.domain}",
                "transmissionStart": fmt(m.received + 2),
                "transmissionEnd": fmt(m.received + 3),
                "encryptionInfo": "TLSv1.3",
            },
        }
    return out


def message_info(m: SimMessage, tags: Sequence[Mapping[str, Any]]) -> JSON:
    """Return the get-message-info ``data[0]`` of a message with its applied ``tags``."""
    purge = None if "purgeDates" in m.nulls else fmt(m.received + RETENTION_S)
    holds = []
    if m.litigation_hold:
        holds.append({"id": f"lh-{m.id[3:15]}", "description": m.litigation_hold, "expiry": None})
    total = m.body_size + sum(a.size for a in m.attachments)
    meta: JSON = {
        "remoteIp": m.sender_ip,
        "remoteHost": None if "remoteHost" in m.nulls else m.remote_host,
        "transmissionSize": total,
        "binaryEmailSize": total,
        "encryptionInfo": "TLSv1.2" if m.route == "inbound" else "TLSv1.3",
        "components": components(m),
    }
    message = _message_info(m, m.to, True)
    if "transmissionInfo" not in m.nulls:
        message["transmissionInfo"] = _transmission_info(m)
    out: JSON = {
        "id": m.id,
        "status": m.status,
        "retentionInfo": {
            "currentPurgeDate": purge,
            "originalPurgeDate": purge,
            "purgeBasedOn": "original",
            "retentionAdjustmentDays": 0,
            "litigationHoldInfo": holds,
            "fbrStamps": [],
            "fbrExpireCheck": [],
            "audits": [],
            "smartTags": [dict(t) for t in tags],
        },
        "recipientInfo": {"messageInfo": message, "recipientMetaInfo": meta},
        "deliveredMessage": _delivered(m),
        "spamInfo": spam_info(m),
    }
    if m.status == "held":
        out["queueInfo"] = {
            "queue": "Held for review",
            "reason": m.verdict.description if m.verdict else "Policy",
            "releaseTime": None,
        }
    if m.shape.tx_info:
        out["txInfo"] = {"remoteIp": m.sender_ip, "ehlo": m.remote_host, "tls": "TLSv1.2"}
    return out


def _transmission_info(m: SimMessage) -> str:
    """Return the raw headers as Mimecast shows them: HTML-escaped text in ``<pre>``."""
    lines = (
        f"Received: from {m.remote_host} ({m.remote_host} [{m.sender_ip}])",
        f"From: {header(m.from_hdr, True)}",
        f"To: {', '.join(header(p, True) for p in m.to)}",
        f"Subject: {m.subject}",
        f"Message-ID: {m.message_id}",
    )
    return "<pre>" + html.escape("\n".join(lines)) + "</pre>"
