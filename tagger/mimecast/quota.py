"""Which API quota an account spends: the key its calls share rate-limit gates by.

Mimecast counts calls per registered application (API 2.0: the
``client_id``) or per user (API 1.0: the access key), per endpoint. Accounts
reached with the same credentials (an MSP's partner application serving
several tenants) therefore share one quota, and their calls must be paced
together. :func:`quota_key` returns the key they share: the configured quota
group's name, else a keyed hash of what the quota is counted by. The hash key
is random per process: the key says nothing about the credentials, and
credentials are never logged, stored or compared outside memory.

:func:`quota_fingerprint` is the same key made stable across processes, for
a quota shared by several nodes (:mod:`tagger.mimecast.crossnode`): a
SHA-256 of what the quota is counted by (never of a secret: the client
secret and the secret key take no part in it), which may be stored.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

import httpx

from tagger.mimecast.settings import AccountSettings, OAuthCredentials

__all__ = ["credential_key", "quota_fingerprint", "quota_key"]

_PEPPER = secrets.token_bytes(32)


def _quota_ident(settings: AccountSettings) -> bytes:
    """Return what an account's quota is counted by: API version, host and client id/access key."""
    creds = settings.credentials
    ident = creds.client_id if isinstance(creds, OAuthCredentials) else creds.access_key
    host = httpx.URL(settings.base_url).host.lower()
    return "\0".join((settings.api_version, host, ident)).encode("utf-8")


def credential_key(settings: AccountSettings) -> str:
    """Return the key of the quota an account's credentials imply.

    Given the settings; equal for accounts with the same API version, base URL
    host and ``client_id`` (API 2.0) or access key (API 1.0). The result is a
    keyed hash, stable within this process only; it never holds a secret.
    """
    digest = hmac.new(_PEPPER, _quota_ident(settings), hashlib.sha256).hexdigest()
    return "credentials:" + digest[:32]


def quota_key(settings: AccountSettings) -> str:
    """Return the key of the quota an account spends: its quota group, else its credentials'."""
    if settings.quota_group is not None:
        return "group:" + settings.quota_group
    return credential_key(settings)


def quota_fingerprint(settings: AccountSettings) -> str:
    """Return the key of an account's quota, the same in every process (it may be stored).

    Given the settings: ``group:NAME`` for a quota group, else
    ``credentials:`` and 32 hex digits of a SHA-256 of the API version, base
    URL host and ``client_id`` / access key (domain-separated). Never a secret.
    """
    if settings.quota_group is not None:
        return "group:" + settings.quota_group
    digest = hashlib.sha256(b"tagger-quota-v1\0" + _quota_ident(settings)).hexdigest()
    return "credentials:" + digest[:32]
