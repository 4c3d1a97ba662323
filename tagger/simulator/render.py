"""The JSON shapes of message-finder results, built from :class:`SimMessage` records.

Shapes follow the documented responses and what real data looks like:
``deliveredMessage`` is usually keyed by recipient address but sometimes
flat, the verdict sometimes spells ``descision``, and optional fields are
sometimes null or absent.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any

from tagger.simulator.records import Check, Party, Risk, SimMessage, SimVerdict
from tagger.simulator.vocab import STATUS_INFO

JSON = dict[str, Any]

RETENTION_S = 7 * 365 * 86400
UNDELIVERED = ("held", "rejected", "bounced", "deferred")


def fmt(epoch: float) -> str:
    """Format epoch seconds as ``yyyy-MM-dd'T'HH:mm:ssZ`` (UTC)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S+0000", time.gmtime(epoch))


def _party(p: Party) -> JSON:
    return {"emailAddress": p.email, "displayableName": p.name}


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
        "fromEnv": _party(m.from_env),
        "fromHdr": _party(m.from_hdr),
        "to": [_party(p) for p in m.to],
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
    return {
        key: vd.decision,
        "description": vd.description,
        "risk": vd.risk,
        "categories": [_risk(c, 0) for c in vd.categories],
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


def _components(m: SimMessage) -> list[JSON]:
    body: JSON = {
        "type": "body",
        "name": "",
        "extension": "",
        "mimeType": "text/html",
        "size": m.body_size,
        "hash": m.id[-40:].lower(),
    }
    files = [
        {
            "type": "attachment",
            "name": a.name,
            "extension": a.extension,
            "mimeType": a.mime_type,
            "size": a.size,
            "hash": a.hash,
        }
        for a in m.attachments
    ]
    return [body, *files]


def _message_info(m: SimMessage, to: Sequence[Party], cc: bool) -> JSON:
    info: JSON = {
        "fromHeader": m.from_hdr.email,
        "fromEnvelope": m.from_env.email,
        "to": [p.email for p in to],
        "subject": m.subject,
        "sent": fmt(m.sent),
        "processed": fmt(m.received + 1),
        "route": m.route,
    }
    if cc and "cc" not in m.nulls:
        info["cc"] = [p.email for p in m.cc]
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
        "components": _components(m),
    }
    message = _message_info(m, m.to, True)
    message["attachments"] = [a.name for a in m.attachments]
    if "transmissionInfo" not in m.nulls:
        message["transmissionInfo"] = f"Received from {m.remote_host} ({m.sender_ip})"
    return {
        "id": m.id,
        "status": m.status,
        "retentionInfo": {
            "currentPurgeDate": purge,
            "originalPurgeDate": purge,
            "purgeBasedOn": "receipt_date",
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
