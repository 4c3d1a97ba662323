"""Email addresses read from Mimecast's header values.

Mimecast hands addresses over as header text (``"Payroll Team" <payroll@x.com>``,
several addresses separated by commas, RFC 2047 encoded words) or as
``{emailAddress, displayableName}`` objects whose ``emailAddress`` may itself be
header text. Everything is parsed with the standard library's RFC 5322 parser;
a value that holds no real address yields no address, never a fragment.
The parsers here never raise.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from email import _header_value_parser as rfc5322
from functools import lru_cache
from typing import Any

# A plain dot-atom address: the common case, read without the full parser.
_ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_PLAIN = re.compile(rf"{_ATOM}(?:\.{_ATOM})*@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.?")
# One word without "@" or header punctuation (``MAILER-DAEMON``): kept as the address
# text, as Mimecast sent it, but it has no domain.
_WORD = re.compile(r"[^\s@<>,;:\"()\[\]\\]+")
# A domain: labels of letters (any script), digits, hyphens and underscores; or a literal.
_DOMAIN = re.compile(r"(?:[\w-]+\.)*[\w-]+\.?|\[(?:IPv6:)?[0-9A-Fa-f:.]+\]")
# Defects of a mailbox that leave its address intact.
_HARMLESS = frozenset({"missing trailing '>' on angle-addr"})


def valid_domain(domain: str) -> str:
    """Return ``domain`` lower-cased without a trailing dot if it is a domain, else ``""``."""
    if not domain or not _DOMAIN.fullmatch(domain):
        return ""
    return domain.rstrip(".").lower()


@dataclass(frozen=True, slots=True)
class Address:
    """An email address with its display name (either may be empty)."""

    email: str = ""
    name: str = ""

    @classmethod
    def parse(cls, value: Any) -> Address:
        """Return the first real address of a header value or address object.

        Given a header string (``"Name" <a@b>``, ``a@b``, a list of those) or
        ``{emailAddress, displayableName}``; returns an empty Address when the
        value holds no real address.
        """
        found = cls.parse_list(value)
        return found[0] if found else cls()

    @classmethod
    def parse_list(cls, value: Any) -> tuple[Address, ...]:
        """Return every real address of a header value, an address object, or a list of them."""
        if isinstance(value, list):
            return tuple(
                a for item in value if not isinstance(item, list) for a in cls.parse_list(item)
            )
        if isinstance(value, str):
            return parse_header(value)
        if isinstance(value, Mapping):
            return _from_object(value)
        return ()

    @property
    def domain(self) -> str:
        """Return the lower-cased domain part, or ``""`` when the email has no valid one."""
        local, at, domain = self.email.rpartition("@")
        if not at or not local:
            return ""
        return valid_domain(domain)


def _text(value: Any) -> str:
    return value if isinstance(value, str) else ""


def _from_object(obj: Mapping[str, Any]) -> tuple[Address, ...]:
    """Parse ``{emailAddress, displayableName}`` (or ``address``/``displayName``)."""
    raw = _text(obj.get("emailAddress")) or _text(obj.get("address"))
    name = (_text(obj.get("displayableName")) or _text(obj.get("displayName"))).strip()
    found = parse_header(raw)
    if not found:
        return (Address("", name),) if name else ()
    first = found[0]
    return (Address(first.email, name or first.name), *found[1:])


def parse_header(value: str) -> tuple[Address, ...]:
    """Return the real addresses of one header value, in order (none on junk; never raises)."""
    text = value.strip()
    if not text:
        return ()
    if _PLAIN.fullmatch(text):
        return (Address(text),)
    found = _parse_slow(text[:4096])
    if not found and _WORD.fullmatch(text):
        return (Address(text),)
    return found


@lru_cache(maxsize=4096)
def _parse_slow(text: str) -> tuple[Address, ...]:
    try:
        address_list, _rest = rfc5322.get_address_list(text)
        mailboxes = address_list.all_mailboxes
    except Exception:  # the parser fails on some malformed input (e.g. "x@")
        return ()
    out = (_mailbox(box) for box in mailboxes)
    return tuple(a for a in out if a is not None)


def _mailbox(box: Any) -> Address | None:
    """Return the address of one parsed mailbox, or None when it is not a real address."""
    try:
        defects = {str(d) for d in box.all_defects}
        kind, local, domain = box.token_type, box.local_part, box.domain
        name, spec = box.display_name or "", box.addr_spec
    except Exception:  # a malformed token lacks the parts asked for
        return None
    if kind != "mailbox" and not defects <= _HARMLESS:
        return None
    if not local or not isinstance(domain, str) or not valid_domain(domain):
        return None
    return Address(spec, name.strip())
