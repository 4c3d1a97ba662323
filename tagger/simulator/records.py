"""The facts the simulator keeps about each synthetic message.

A :class:`SimMessage` holds what the mailbox knows; :mod:`render` turns it
into the JSON shapes the real service sends. Times are epoch seconds (UTC).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Party:
    """An address with its display name."""

    email: str
    name: str = ""

    @property
    def domain(self) -> str:
        """Return the lower-cased domain part."""
        return self.email.rpartition("@")[2].lower()


@dataclass(frozen=True, slots=True)
class SimAttachment:
    """One attached file."""

    name: str
    extension: str
    mime_type: str
    size: int
    hash: str


@dataclass(frozen=True, slots=True)
class Check:
    """An SPF/DKIM/DMARC/RBL/permitted/managed-sender result."""

    allow: bool
    info: str


@dataclass(frozen=True, slots=True)
class Risk:
    """A verdict category, subcategory or augmentation."""

    name: str
    risk: str
    children: tuple[Risk, ...] = ()


@dataclass(frozen=True, slots=True)
class SimVerdict:
    """The spam verdict; ``misspelt`` renders ``decision`` as the documented ``descision``."""

    decision: str
    description: str
    risk: str
    categories: tuple[Risk, ...] = ()
    misspelt: bool = False


@dataclass(frozen=True, slots=True)
class SimPolicy:
    """A policy applied on delivery."""

    type: str
    name: str
    inherited: bool


@dataclass(frozen=True, slots=True)
class SimShape:
    """How a message is written in JSON (drawn apart from its content).

    ``body_parts`` lists the body components besides the transmission file
    (``html``, ``plain``, ``part``); ``attachment_type`` is the component type
    given to attached files (the real name is undocumented, so it varies, and
    may be empty). ``display_from``/``display_to`` write header addresses with
    their display names (``"Name" <a@b>``); ``search_names`` keeps
    ``displayableName`` in the search result. ``tx_info`` adds ``txInfo``.
    """

    body_parts: tuple[str, ...] = ("html", "plain")
    attachment_type: str = "Email Attachment"
    display_from: bool = True
    display_to: bool = False
    search_names: bool = True
    tx_info: bool = False


@dataclass(frozen=True, slots=True)
class SimMessage:
    """One message of the simulated mailbox.

    ``received`` is when Mimecast received it; ``indexed`` is when search can
    first see it (later than ``received`` for late-indexed messages).
    ``profile`` names the scenario it was generated from (ground truth for
    tests and benchmarks). ``nulls`` lists optional JSON fields rendered as
    null or left out, as real data does; ``shape`` how the JSON is written.
    ``attachments`` holds the attached files only: the transmission file and
    the body parts are written from ``shape``.
    """

    id: str
    message_id: str
    profile: str
    received: float
    indexed: float
    sent: float
    route: str
    status: str
    from_env: Party
    from_hdr: Party
    to: tuple[Party, ...]
    cc: tuple[Party, ...]
    subject: str
    sender_ip: str
    remote_host: str
    attachments: tuple[SimAttachment, ...]
    body_size: int
    urls: tuple[str, ...]
    spam_score: int | None
    detection_level: str | None
    grey: bool
    rbl: Check
    spf: Check
    dkim: Check
    dmarc: Check
    permitted_sender: Check
    managed_sender: Check
    verdict: SimVerdict | None
    policies: tuple[SimPolicy, ...]
    flat_delivery: bool
    litigation_hold: str | None
    nulls: frozenset[str] = frozenset()
    shape: SimShape = SimShape()

    @property
    def recipients(self) -> tuple[Party, ...]:
        """Return every recipient (to, then cc)."""
        return self.to + self.cc

    @property
    def has_attachments(self) -> bool:
        """Return True when the message carries at least one file."""
        return bool(self.attachments)
