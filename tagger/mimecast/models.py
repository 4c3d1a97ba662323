"""Typed, immutable views of Mimecast API response items.

Every parser here takes the decoded JSON of one ``data[]`` item and never
raises on missing or null fields: real Mimecast data omits fields freely.
A value of the wrong JSON type is treated as missing. Each model keeps the
raw item in ``raw`` so that nothing the service sent is lost.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from tagger.mimecast.addresses import Address
from tagger.mimecast.components import Attachment, parse_components
from tagger.mimecast.jsonvalues import as_num as _num
from tagger.mimecast.jsonvalues import as_str as _str

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

_EMPTY: Mapping[str, Any] = {}
NOBODY = Address()
"""The empty address: what a field holding no real address parses to."""


def _obj(value: Any) -> Mapping[str, Any]:
    """Return ``value`` if it is a JSON object, else an empty mapping."""
    return value if isinstance(value, Mapping) else _EMPTY


def _list(value: Any) -> list[Any]:
    """Return ``value`` if it is a JSON array, else an empty list."""
    return value if isinstance(value, list) else []


def _bool(value: Any) -> bool | None:
    """Return ``value`` as a bool if it is one (or ``"true"``/``"false"``)."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.lower() in ("true", "false"):
        return value.lower() == "true"
    return None


_DATE_FORMATS = (
    "%Y-%m-%dT%H:%M:%S%z",
    "%Y-%m-%dT%H:%M:%S.%f%z",
    "%Y-%m-%dT%H:%M:%S",
    "%a, %d %b %Y %H:%M:%S %Z",
)


def parse_time(value: Any) -> datetime | None:
    """Parse a Mimecast date string (``2011-12-03T10:15:30+0000`` and kin).

    Given any JSON value; returns an aware UTC datetime, or None when the value
    is missing or not a recognisable date.
    """
    text = _str(value)
    if not text:
        return None
    text = text.strip()
    if text.endswith("Z"):
        text = text[:-1] + "+0000"
    # Fast path (~70x cheaper than strptime; a search returns hundreds of
    # dates): every string the ISO formats below accept, fromisoformat reads alike.
    if len(text) >= 19 and text[10] == "T":
        try:
            fast = datetime.fromisoformat(text)
        except ValueError:
            pass
        else:
            return (fast if fast.tzinfo else fast.replace(tzinfo=UTC)).astimezone(UTC)
    for fmt in _DATE_FORMATS:
        try:
            parsed = datetime.strptime(text, fmt)
        except ValueError:
            continue
        if parsed.tzinfo is None:
            parsed = parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    try:
        parsed = datetime.fromisoformat(text)
    except ValueError:
        return None
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def format_time(value: datetime) -> str:
    """Format a datetime the way message-finder expects: ``yyyy-MM-dd'T'HH:mm:ssZ``."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S+0000")


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
class CheckResult:
    """An SPF/DKIM/DMARC/RBL/permitted/managed-sender result: ``{allow, info}``."""

    allow: bool | None = None
    info: str | None = None

    @classmethod
    def parse(cls, value: Any) -> CheckResult | None:
        """Parse ``{allow, info}``; returns None when the value is absent."""
        if value is None:
            return None
        obj = _obj(value)
        if not obj:
            return None
        return cls(allow=_bool(obj.get("allow")), info=_str(obj.get("info")))


@dataclass(frozen=True, slots=True)
class RiskItem:
    """A verdict category, subcategory or augmentation: a name and a risk."""

    name: str = ""
    risk: str | None = None
    children: tuple[RiskItem, ...] = ()

    @classmethod
    def parse(cls, value: Any) -> RiskItem:
        """Parse a category (``subcategories``) or subcategory (``augmentations``)."""
        obj = _obj(value)
        kids = _list(obj.get("subcategories")) or _list(obj.get("augmentations"))
        return cls(
            name=_str(obj.get("name")) or "",
            risk=_str(obj.get("risk")),
            children=tuple(cls.parse(k) for k in kids),
        )


@dataclass(frozen=True, slots=True)
class Verdict:
    """The spam verdict; accepts both ``decision`` and the documented ``descision``."""

    decision: str | None = None
    description: str | None = None
    risk: str | None = None
    categories: tuple[RiskItem, ...] = ()

    @classmethod
    def parse(cls, value: Any) -> Verdict | None:
        """Parse the verdict object; returns None when absent."""
        obj = _obj(value)
        if not obj:
            return None
        decision = _str(obj.get("decision"))
        if decision is None:
            decision = _str(obj.get("descision"))
        return cls(
            decision=decision,
            description=_str(obj.get("description")),
            risk=_str(obj.get("risk")),
            categories=tuple(RiskItem.parse(c) for c in _list(obj.get("categories"))),
        )


@dataclass(frozen=True, slots=True)
class SpamInfo:
    """``spamInfo``: score, detection level and the processing details."""

    score: float | None = None
    detection_level: str | None = None
    grey_email: bool | None = None
    rbl: CheckResult | None = None
    spf: CheckResult | None = None
    dkim: CheckResult | None = None
    dmarc: CheckResult | None = None
    permitted_sender: CheckResult | None = None
    managed_sender: CheckResult | None = None
    verdict: Verdict | None = None

    @classmethod
    def parse(cls, value: Any) -> SpamInfo:
        """Parse ``spamInfo`` (missing parts become None)."""
        obj = _obj(value)
        detail = _obj(obj.get("spamProcessingDetail"))
        return cls(
            score=_num(obj.get("spamScore")),
            detection_level=_str(obj.get("detectionLevel")),
            grey_email=_bool(detail.get("greyEmail")),
            rbl=CheckResult.parse(detail.get("rbl")),
            spf=CheckResult.parse(detail.get("spf")),
            dkim=CheckResult.parse(detail.get("dkim")),
            dmarc=CheckResult.parse(detail.get("dmarc")),
            permitted_sender=CheckResult.parse(detail.get("permittedSender")),
            managed_sender=CheckResult.parse(detail.get("managedSender")),
            verdict=Verdict.parse(detail.get("verdict")),
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
    spam: SpamInfo = SpamInfo()
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
