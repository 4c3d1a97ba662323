"""Mimecast base URLs: region names per API version, and the https-only rule."""

from __future__ import annotations

import difflib
import ipaddress
from urllib.parse import urlsplit

import httpx

API_VERSIONS = ("1.0", "2.0")

# API 2.0 gateways (confirmed); "global" fails over between regions.
REGIONS_V2: dict[str, str] = {
    "global": "https://api.services.mimecast.com",
    "uk": "https://uk-api.services.mimecast.com",
    "us": "https://us-api.services.mimecast.com",
}

# API 1.0 regional hosts: eu, us, de, au, za and jer are documented; ca (Canada)
# is used by several public clients. The official list is not public, so any
# full https URL is accepted as well.
REGIONS_V1: dict[str, str] = {
    r: f"https://{r}-api.mimecast.com" for r in ("eu", "us", "de", "au", "za", "jer", "ca")
}

_LOOPBACK_NAMES = ("localhost",)


def _is_loopback(host: str) -> bool:
    """Return True for 127.0.0.0/8, ::1 and ``localhost``."""
    if host.lower() in _LOOPBACK_NAMES:
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def resolve_base_url(value: str, api_version: str) -> str:
    """Turn a region name or a URL into the base URL requests are sent to.

    Given a region name (``global``/``uk``/``us`` for 2.0; ``eu``/``us``/``de``/
    ``au``/``za``/``jer``/``ca`` for 1.0) or a full URL and the API version;
    returns the base URL without a trailing slash. Plain ``http`` is accepted
    only for a loopback host (the local simulator). Raises ``ValueError`` for an
    unknown version or region (with a "did you mean" hint, or the note that the
    name is a region of the other API version), or a URL that is not https.
    """
    if api_version not in API_VERSIONS:
        raise ValueError(f"unknown API version {api_version!r}: expected one of 1.0, 2.0")
    text = value.strip()
    regions = REGIONS_V2 if api_version == "2.0" else REGIONS_V1
    if "://" not in text:
        name = text.lower()
        if name in regions:
            return regions[name]
        known = ", ".join(regions)
        close = difflib.get_close_matches(name, list(regions), n=1)
        hint = f"; did you mean {close[0]!r}?" if close else ""
        if name in REGIONS_V1 or name in REGIONS_V2:
            other = "1.0" if api_version == "2.0" else "2.0"
            instead = "; for API 2.0 use global" if api_version == "2.0" else ""
            hint = f"; {text!r} is an API {other} region{instead}"
        raise ValueError(
            f"unknown API {api_version} region {text!r} (known: {known}){hint}"
            " — or give a full https:// URL"
        )
    parts = urlsplit(text)
    host = parts.hostname or ""
    if not host:
        raise ValueError(f"base URL {text!r} has no host name")
    if parts.username or parts.password:
        raise ValueError("base URL must not contain a user name or password")
    if parts.query or parts.fragment:
        raise ValueError(f"base URL {text!r} must not contain a query or fragment")
    scheme = parts.scheme.lower()
    if scheme == "http" and not _is_loopback(host):
        raise ValueError(
            f"base URL {text!r} uses plain http: only https is allowed "
            "(http is accepted for 127.0.0.1, ::1 and localhost only)"
        )
    if scheme not in ("http", "https"):
        raise ValueError(f"base URL {text!r} must start with https://")
    try:
        _ = parts.port  # a port that is not a number raises here
        httpx.URL(text)  # what the client will parse
    except (ValueError, httpx.InvalidURL) as exc:
        raise ValueError(f"base URL {text!r} is not a valid URL: {exc}") from None
    return text.rstrip("/")
