"""Typed, immutable views of Mimecast API response items.

Every parser here takes the decoded JSON of one ``data[]`` item and never
raises on missing or null fields: real Mimecast data omits fields freely.
A value of the wrong JSON type is treated as missing. Each model keeps the
raw item in ``raw`` so that nothing the service sent is lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from tagger.mimecast.addresses import Address
from tagger.mimecast.components import Attachment, parse_components
from tagger.mimecast.jsonvalues import as_bool as _bool
from tagger.mimecast.jsonvalues import as_list as _list
from tagger.mimecast.jsonvalues import as_num as _num
from tagger.mimecast.jsonvalues import as_obj as _obj
from tagger.mimecast.jsonvalues import as_str as _str
from tagger.mimecast.spam import NO_SPAM_INFO, CheckResult, RiskItem, SpamInfo, Verdict
from tagger.mimecast.times import format_time, parse_time

__all__ = [
    "Address",
    "AppliedTag",
    "Attachment",
    "CheckResult",
    "Delivery",
    "Message",
    "MessageInfo",
    "Policy",
    "RiskItem",
    "SmartTag",
    "SpamInfo",
    "TrackedEmail",
    "Verdict",
    "format_time",
    "parse_time",
]

JSON = dict[str, Any]

NOBODY = Address()
"""The empty address: what a field holding no real address parses to."""


@dataclass(frozen=True, slots=True)
class TrackedEmail:
    """One ``trackedEmails[]`` item from message-finder search."""

    id: str
    status: str | None = None
    info: str | None = None
    received: datetime | None = None
    sent: datetime | None = None
    subject: str | None = None
    sender_ip: str | None = None
    route: str | None = None
    attachments: bool | None = None
    from_env: Address = NOBODY
    from_hdr: Address = NOBODY
    to: tuple[Address, ...] = ()
    spam_score: float | None = None
    detection_level: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def parse(cls, item: Any) -> TrackedEmail | None:
        """Parse one tracked email; returns None when it has no usable ``id``."""
        obj = _obj(item)
        ident = _str(obj.get("id"))
        if not ident:
            return None
        return cls(
            id=ident,
            status=_str(obj.get("status")),
            info=_str(obj.get("info")),
            received=parse_time(obj.get("received")),
            sent=parse_time(obj.get("sent")),
            subject=_str(obj.get("subject")),
            sender_ip=_str(obj.get("senderIP")),
            route=_str(obj.get("route")),
            attachments=_bool(obj.get("attachments")),
            from_env=Address.parse(obj.get("fromEnv")),
            from_hdr=Address.parse(obj.get("fromHdr")),
            to=Address.parse_list(obj.get("to")),
            spam_score=_num(obj.get("spamScore")),
            detection_level=_str(obj.get("detectionLevel")),
            raw=dict(obj),
        )


@dataclass(frozen=True, slots=True)
class Policy:
    """A policy applied on delivery (``policyInfo[]``)."""

    type: str = ""
    name: str = ""
    inherited: bool | None = None

    @classmethod
    def parse(cls, value: Any) -> Policy:
        """Parse ``{policyType, policyName, inherited}``."""
        obj = _obj(value)
        return cls(
            type=_str(obj.get("policyType")) or "",
            name=_str(obj.get("policyName")) or "",
            inherited=_bool(obj.get("inherited")),
        )


@dataclass(frozen=True, slots=True)
class Delivery:
    """One recipient's delivered message: its route and the policies applied."""

    recipient: str = ""
    route: str | None = None
    policies: tuple[Policy, ...] = ()


@dataclass(frozen=True, slots=True)
class AppliedTag:
    """A Smart Tag already on a message (``retentionInfo.smartTags[]``)."""

    id: str = ""
    name: str = ""
    path: str = ""

    @classmethod
    def parse(cls, value: Any) -> AppliedTag:
        """Parse a tag item (shape undocumented: ``{id, name, path}`` or a bare id)."""
        if isinstance(value, str):
            return cls(id=value)
        obj = _obj(value)
        return cls(
            id=_str(obj.get("id")) or _str(obj.get("smartTagId")) or "",
            name=_str(obj.get("name")) or "",
            path=_str(obj.get("path")) or "",
        )


def _deliveries(value: Any) -> tuple[Delivery, ...]:
    """Parse ``deliveredMessage`` in both shapes: keyed by recipient, or flat."""
    obj = _obj(value)
    if not obj:
        return ()
    if "messageInfo" in obj or "policyInfo" in obj or "deliveryMetaInfo" in obj:
        entries: list[tuple[str, Mapping[str, Any]]] = [("", obj)]
    else:
        entries = [(str(k), _obj(v)) for k, v in obj.items()]
    out = []
    for recipient, entry in entries:
        info = _obj(entry.get("messageInfo"))
        out.append(
            Delivery(
                recipient=recipient,
                route=_str(info.get("route")),
                policies=tuple(Policy.parse(p) for p in _list(entry.get("policyInfo"))),
            )
        )
    return tuple(out)


@dataclass(frozen=True, slots=True)
class MessageInfo:
    """The body of get-message-info for one message."""

    id: str
    status: str | None = None
    from_hdr: Address = NOBODY
    from_env: Address = NOBODY
    to: tuple[Address, ...] = ()
    cc: tuple[Address, ...] = ()
    subject: str | None = None
    sent: datetime | None = None
    processed: datetime | None = None
    remote_ip: str | None = None
    remote_host: str | None = None
    size: float | None = None
    components: tuple[Attachment, ...] = ()
    attachments: tuple[Attachment, ...] = ()
    deliveries: tuple[Delivery, ...] = ()
    spam: SpamInfo = NO_SPAM_INFO
    smart_tags: tuple[AppliedTag, ...] = ()
    litigation_holds: tuple[Mapping[str, Any], ...] = ()
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def parse(cls, item: Any) -> MessageInfo | None:
        """Parse get-message-info ``data[0]``; returns None when it has no ``id``."""
        obj = _obj(item)
        ident = _str(obj.get("id"))
        if not ident:
            return None
        retention = _obj(obj.get("retentionInfo"))
        recipient = _obj(obj.get("recipientInfo"))
        message = _obj(recipient.get("messageInfo"))
        meta = _obj(recipient.get("recipientMetaInfo"))
        # Real messageInfo has no attachments list; it is read only without components.
        components, attachments = parse_components(
            meta.get("components"), message.get("attachments")
        )
        size = _num(meta.get("transmissionSize"))
        if size is None:
            size = _num(meta.get("binaryEmailSize"))
        return cls(
            id=ident,
            status=_str(obj.get("status")),
            from_hdr=Address.parse(message.get("fromHeader")),
            from_env=Address.parse(message.get("fromEnvelope")),
            to=Address.parse_list(message.get("to")),
            cc=Address.parse_list(message.get("cc")),
            subject=_str(message.get("subject")),
            sent=parse_time(message.get("sent")),
            processed=parse_time(message.get("processed")),
            remote_ip=_str(meta.get("remoteIp")),
            remote_host=_str(meta.get("remoteHost")),
            size=size,
            components=components,
            attachments=attachments,
            deliveries=_deliveries(obj.get("deliveredMessage")),
            spam=SpamInfo.parse(obj.get("spamInfo")),
            smart_tags=tuple(AppliedTag.parse(t) for t in _list(retention.get("smartTags"))),
            litigation_holds=tuple(
                _obj(h) for h in _list(retention.get("litigationHoldInfo")) if _obj(h)
            ),
            raw=dict(obj),
        )


@dataclass(frozen=True, slots=True)
class SmartTag:
    """A Smart Tag defined on the account (list call)."""

    id: str
    name: str = ""
    path: str = ""
    description: str = ""
    parent_id: str | None = None

    @classmethod
    def parse(cls, item: Any) -> SmartTag | None:
        """Parse ``{id, name, description, parentId, path}``; None without ``id``."""
        obj = _obj(item)
        ident = _str(obj.get("id"))
        if not ident:
            return None
        name = _str(obj.get("name")) or ""
        return cls(
            id=ident,
            name=name,
            path=_str(obj.get("path")) or name,
            description=_str(obj.get("description")) or "",
            parent_id=_str(obj.get("parentId")),
        )


@dataclass(frozen=True, slots=True)
class Message:
    """What the rules see of one message: its search summary and, if fetched, its info."""

    summary: TrackedEmail
    info: MessageInfo | None = None

    @property
    def id(self) -> str:
        """Return the Mimecast message ID."""
        return self.summary.id
