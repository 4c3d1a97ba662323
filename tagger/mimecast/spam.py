"""Typed views of ``spamInfo``: the spam score, the sender checks and the verdict.

Like every parser of :mod:`tagger.mimecast.models`, these never raise on
missing, null or wrongly typed fields. A check's ``info`` is its result;
``allow`` only says whether the policy let the message through.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tagger.mimecast.jsonvalues import as_bool as _bool
from tagger.mimecast.jsonvalues import as_list as _list
from tagger.mimecast.jsonvalues import as_num as _num
from tagger.mimecast.jsonvalues import as_obj as _obj
from tagger.mimecast.jsonvalues import as_str as _str


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


NO_SPAM_INFO = SpamInfo()
"""The ``spamInfo`` of a message whose answer holds none (every part None)."""
