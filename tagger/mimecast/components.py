"""Message components: which parts of a message are attachments.

``recipientMetaInfo.components[]`` lists every part of a message: the
transmission file (``Email Transmission File``, ``transmission.eml``), the
body parts (``Email Primary Body HTML`` ``body.htm``, ``Email Primary Body
Plain Text`` ``body.txt``, ``Email HTML Body Part``) and the attached files.
The type name Mimecast gives a real attachment is not documented, so an
attachment is any component that is neither the transmission file nor a body
part, judged by type and by name, case-insensitively. The parsers never raise.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from tagger.mimecast.jsonvalues import as_num as _num
from tagger.mimecast.jsonvalues import as_str

# Component types (case-folded substrings) of the parts that are not attachments.
PART_TYPE_MARKS = ("transmission file", "transmission", "body")
# File names of the parts that are not attachments.
PART_NAMES = frozenset(
    {
        "transmission.eml",
        "body.htm",
        "body.html",
        "body.txt",
        "body.text",
        "body.rtf",
        "body.mht",
        "body.eml",
    }
)
# MIME types a nameless part of unknown type carries when it is a body, not a file.
BODY_MIME_TYPES = frozenset(
    {"", "text/html", "text/plain", "text/enriched", "text/rtf", "message/rfc822-stubbed"}
)


def _str(value: Any) -> str:
    """Return ``value`` as a string ("" when it is not one)."""
    return as_str(value) or ""


@dataclass(frozen=True, slots=True)
class Attachment:
    """One message component (an attachment, a body part or the transmission file).

    ``is_attachment`` says whether it is an attached file (see the module docstring).
    """

    name: str = ""
    extension: str = ""
    mime_type: str = ""
    size: float | None = None
    type: str = ""
    hash: str = ""
    is_attachment: bool = True

    @classmethod
    def parse(cls, value: Any) -> Attachment:
        """Parse a ``components[]`` item, or a file name (legacy ``attachments[]``)."""
        if isinstance(value, str):
            value = {"name": value}
        obj = value if isinstance(value, Mapping) else {}
        name = (_str(obj.get("name")) or _str(obj.get("filename"))).strip()
        ext = _str(obj.get("extension")).strip()
        if not ext and "." in name:
            ext = name.rsplit(".", 1)[1]
        mime = (_str(obj.get("mimeType")) or _str(obj.get("contentType"))).strip().lower()
        kind = _str(obj.get("type")).strip()
        return cls(
            name=name,
            extension=ext.lstrip(".").lower(),
            mime_type=mime,
            size=_num(obj.get("size")),
            type=kind,
            hash=_str(obj.get("hash")),
            is_attachment=is_attachment(kind, name, mime),
        )


def is_attachment(kind: str, name: str, mime_type: str) -> bool:
    """Return whether a component of this type, file name and MIME type is an attached file.

    Body parts and the transmission file are recognised by type (``...Body...``,
    ``...Transmission File``) or, whatever the type says short of
    ``attachment``, by name (``body.htm``, ``transmission.eml``...). A component
    of unknown type counts as an attachment when it looks like a file: a name
    with an extension, or a MIME type no body has.
    """
    folded = kind.casefold()
    if any(mark in folded for mark in PART_TYPE_MARKS):
        return False
    if "attachment" in folded:
        return True
    base = name.casefold().replace("\\", "/").rsplit("/", 1)[-1]
    if base in PART_NAMES:
        return False
    stem, dot, ext = base.rpartition(".")
    if dot and stem and ext:
        return True
    return mime_type.casefold() not in BODY_MIME_TYPES and not mime_type.startswith("multipart/")


def parse_components(
    components: Any, legacy: Any
) -> tuple[tuple[Attachment, ...], tuple[Attachment, ...]]:
    """Return ``(components, attachments)`` from ``components[]``, else a legacy file list.

    ``components`` is ``recipientMetaInfo.components``; ``legacy`` an
    ``attachments[]`` list of names or objects, used only when there are no
    components (real ``messageInfo`` has none). Non-list values count as empty.
    """
    items = components if isinstance(components, list) else []
    parsed = tuple(Attachment.parse(c) for c in items if isinstance(c, (Mapping, str)))
    if parsed:
        return parsed, tuple(c for c in parsed if c.is_attachment)
    files = legacy if isinstance(legacy, list) else []
    old = tuple(Attachment.parse(f) for f in files if isinstance(f, (Mapping, str)))
    return (), tuple(
        Attachment(a.name, a.extension, a.mime_type, a.size, a.type, a.hash) for a in old
    )
