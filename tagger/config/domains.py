"""An account's own mail domains (``domains:``): checked and normalised, problems located."""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from tagger.yamldoc.problems import Problems

__all__ = ["check_domain", "parse_domains"]

_LABEL = r"(?!-)[a-z0-9-]{1,63}(?<!-)"
_DOMAIN = re.compile(rf"^{_LABEL}(?:\.{_LABEL})+$")
_MAX_LENGTH = 253


class DomainError(ValueError):
    """A value that is not a domain name; ``hint`` suggests the fix."""

    def __init__(self, message: str, hint: str = "") -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint


def check_domain(value: str) -> str:
    """Return ``value`` as a normalised domain: trimmed, lower case, no final dot.

    Internationalised names are converted to their ASCII (punycode) form.
    Raises :class:`DomainError` (with a hint) for an address, a URL, a
    wildcard, a name without a dot or with invalid characters.
    """
    text = value.strip().lower().rstrip(".")
    if "@" in text:
        domain = text.rsplit("@", 1)[1]
        what = "starts with '@'" if text.startswith("@") else "is a mail address"
        return _fail(f"{value!r} {what}, not a domain", domain)
    if "://" in text or "/" in text:
        domain = text.split("://", 1)[-1].split("/", 1)[0]
        return _fail(f"{value!r} is a URL, not a domain", domain)
    if text.startswith("*."):
        raise DomainError(
            f"{value!r}: wildcards are not supported",
            hint=f"list the domain ({text[2:]}) and each subdomain that receives mail",
        )
    if not text.isascii():
        try:
            text = text.encode("idna").decode("ascii")
        except UnicodeError:
            raise DomainError(f"{value!r} is not a valid domain name") from None
    if len(text) > _MAX_LENGTH or not _DOMAIN.match(text):
        hint = "" if "." in text else "a mail domain has at least one dot, e.g. example.com"
        raise DomainError(
            f"{value!r} is not a valid domain name (letters, digits, '-' and dots)", hint
        )
    return text


def _fail(message: str, suggestion: str) -> str:
    """Raise a :class:`DomainError` suggesting ``suggestion`` when it is itself a domain."""
    try:
        fixed = check_domain(suggestion) if suggestion else ""
    except DomainError:
        fixed = ""
    raise DomainError(message, hint=f"did you mean {fixed!r}?" if fixed else "")


def parse_domains(
    raw: Sequence[Any], where: tuple[str | int, ...], out: Problems
) -> tuple[str, ...]:
    """Return the valid, normalised domains of ``raw`` (a schema-valid list of strings).

    Each invalid or repeated entry is reported into ``out`` at its position
    under ``where`` and left out.
    """
    found: dict[str, int] = {}
    for index, value in enumerate(raw):
        try:
            domain = check_domain(str(value))
        except DomainError as exc:
            out.add((*where, index), exc.message, hint=exc.hint, at_value=True)
            continue
        if domain in found:
            out.add(
                (*where, index),
                f"domain {domain!r} is listed twice",
                hint=f"also at {where[-1]}[{found[domain]}]",
                at_value=True,
            )
            continue
        found[domain] = index
    return tuple(found)
