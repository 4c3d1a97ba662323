"""Build each account's client settings from its (schema-valid) configuration."""

from __future__ import annotations

import math
import os
import ssl
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

from tagger.config.domains import parse_domains
from tagger.config.model import AccountConfig, RulesMode, SearchScopeMode
from tagger.config.quotas import share_quota_groups
from tagger.config.rulepaths import expand_rule_paths
from tagger.config.secrets import SecretError, read_secret, secret_source
from tagger.mimecast.regions import resolve_base_url
from tagger.mimecast.settings import (
    DEFAULT_MAX_ITEMS,
    DEFAULT_MAX_PAGINATION_S,
    DEFAULT_MAX_RESPONSE_BYTES,
    AccountSettings,
    Credentials,
    EndpointPaths,
    HmacCredentials,
    OAuthCredentials,
    RetryPolicy,
    decode_secret_key,
)
from tagger.mimecast.tls import tls_context
from tagger.rails.budget import Limits
from tagger.yamldoc.problems import PathLike, Problems

__all__ = ["build_accounts"]

NEEDED = {
    "2.0": ("client_id", "client_secret"),
    "1.0": ("access_key", "secret_key", "app_id", "app_key"),
}
# Identifiers (client_id, app_id) are not secret: inline ones need no warning.
SECRET_FIELDS = frozenset({"client_secret", "access_key", "secret_key", "app_key"})
DEFAULT_CONCURRENCY = 4
MB = 1024 * 1024
DEFAULT_MAX_RESPONSE_MB = DEFAULT_MAX_RESPONSE_BYTES // MB


LIMIT_KEYS = ("per_cycle", "per_day", "anomaly_factor", "anomaly_min_cycles")


def limits_of(section: Mapping[str, Any], base: Limits) -> Limits:
    """Return ``base`` with what a ``limits`` section sets (the schema checked the values)."""
    return replace(base, **{k: section[k] for k in LIMIT_KEYS if k in section})


def build_accounts(
    raw: list[Any],
    out: Problems,
    *,
    base_dir: Path,
    env: Mapping[str, str],
    default_concurrency: int = DEFAULT_CONCURRENCY,
) -> tuple[tuple[AccountConfig, ...], list[PathLike]]:
    """Build every account, reporting problems into ``out``.

    Returns the accounts that were built (accounts with the same credentials
    in one quota group, see :mod:`tagger.config.quotas`) and the paths of
    secrets given inline (the caller warns if the file is readable by others).
    """
    accounts: list[tuple[int, AccountConfig]] = []
    inline: list[PathLike] = []
    first_seen: dict[str, int] = {}
    for index, item in enumerate(raw):
        path: tuple[str | int, ...] = ("accounts", index)
        name = str(item["name"])
        if name in first_seen:
            out.add(
                (*path, "name"),
                f"duplicate account name '{name}'",
                hint=f"also used by accounts[{first_seen[name]}]",
                at_value=True,
            )
        first_seen.setdefault(name, index)
        account = _build_one(item, path, out, base_dir, env, default_concurrency, inline)
        if account is not None:
            accounts.append((index, account))
    return tuple(share_quota_groups(accounts, out)), inline


def _build_one(
    item: Mapping[str, Any],
    path: tuple[str | int, ...],
    out: Problems,
    base_dir: Path,
    env: Mapping[str, str],
    default_concurrency: int,
    inline: list[PathLike],
) -> AccountConfig | None:
    """Build one account or return None after reporting why it cannot be built."""
    before = out.error_count()
    name = str(item["name"])
    version = _version(item.get("api_version", "2.0"))
    base_url = _base_url(item, path, version, out)
    credentials = _credentials(
        item.get("credentials", {}), path, version, out, base_dir, env, inline
    )
    only = bool(item.get("ca_bundle_only", False))
    ca_bundle = _ca_bundle(item.get("ca_bundle"), path, out, base_dir, only=only)
    if only and "ca_bundle" not in item:
        out.add((*path, "ca_bundle_only"), "ca_bundle_only needs ca_bundle", at_value=False)
    domains = parse_domains(item.get("domains", []), (*path, "domains"), out)
    scope = _search_scope(item, path, out)
    rule_paths = (
        expand_rule_paths(item["rules"], (*path, "rules"), out, base_dir) if "rules" in item else ()
    )
    mode: RulesMode = "replace" if item.get("rules_mode") == "replace" else "add"
    if "rules_mode" in item and "rules" not in item:
        out.add(
            (*path, "rules_mode"),
            "rules_mode needs the account's own rules",
            hint="add rules: [FILE, ...] to this account, or remove rules_mode",
            at_value=True,
        )
    for key in ("timeout_s", "max_response_mb", "max_pagination_s"):
        if key in item and not math.isfinite(item[key]):
            out.add((*path, key), "must be a finite number", at_value=True)
    retry_raw = item.get("retry", {})
    for key, value in retry_raw.items():
        if not math.isfinite(value):
            out.add((*path, "retry", key), "must be a finite number", at_value=True)
    if out.error_count() > before or base_url is None or credentials is None:
        return None
    try:
        settings = AccountSettings(
            name=name,
            api_version=version,
            base_url=base_url,
            credentials=credentials,
            endpoints=EndpointPaths(**item.get("endpoints", {})),
            ca_bundle=ca_bundle,
            ca_bundle_only=only,
            concurrency=int(item.get("concurrency", default_concurrency)),
            timeout_s=float(item.get("timeout_s", 30.0)),
            retry=_retry(retry_raw),
            max_response_bytes=int(
                float(item.get("max_response_mb", DEFAULT_MAX_RESPONSE_MB)) * MB
            ),
            max_items=int(item.get("max_items_per_response", DEFAULT_MAX_ITEMS)),
            max_pagination_s=float(item.get("max_pagination_s", DEFAULT_MAX_PAGINATION_S)),
            quota_group=item.get("quota_group"),
        )
    except (ValueError, TypeError) as exc:  # ConfigurationError is a ValueError
        out.add(path, str(exc), at_value=False)
        return None
    own = item.get("limits")
    limits = None if own is None else limits_of(own, Limits())
    return AccountConfig(
        name,
        settings,
        domains,
        scope,
        limits=limits,
        enabled=item.get("enabled", True),
        rule_paths=rule_paths,
        rules_mode=mode,
    )


def _search_scope(
    item: Mapping[str, Any], path: tuple[str | int, ...], out: Problems
) -> SearchScopeMode:
    """Return the account's ``search_scope``; ``domains`` needs a non-empty ``domains`` list."""
    scope: SearchScopeMode = "domains" if item.get("search_scope") == "domains" else "auto"
    if scope == "domains" and not item.get("domains"):
        out.add(
            (*path, "search_scope"),
            "search_scope: domains needs the account's domains",
            hint="add domains: [example.com, ...] (the organisation's own mail domains)",
            at_value=True,
        )
    return scope


def _retry(raw: Mapping[str, Any]) -> RetryPolicy:
    """Return the retry policy: the file's values over the client's defaults."""
    default = RetryPolicy()
    return RetryPolicy(
        max_attempts=int(raw.get("max_attempts", default.max_attempts)),
        max_total_s=float(raw.get("max_total_s", default.max_total_s)),
        base_delay_s=float(raw.get("base_delay_s", default.base_delay_s)),
        max_delay_s=float(raw.get("max_delay_s", default.max_delay_s)),
        max_wait_s=float(raw.get("max_wait_s", default.max_wait_s)),
    )


def _version(value: Any) -> str:
    """Normalise ``2``/``2.0``/``"2.0"`` (YAML reads an unquoted 2.0 as a number)."""
    return f"{float(value):.1f}" if isinstance(value, int | float) else str(value)


def _base_url(
    item: Mapping[str, Any], path: tuple[str | int, ...], version: str, out: Problems
) -> str | None:
    """Return the resolved base URL from ``region`` or ``base_url``, or None after a problem."""
    if "region" in item and "base_url" in item:
        out.add((*path, "base_url"), "give either region or base_url, not both", at_value=False)
        return None
    key = "region" if "region" in item else "base_url" if "base_url" in item else ""
    if not key:
        out.add(path, "missing region or base_url", hint="e.g. region: uk", at_value=False)
        return None
    try:
        return resolve_base_url(str(item[key]), version)
    except ValueError as exc:
        out.add((*path, key), str(exc), at_value=True)
        return None


def _credentials(
    raw: Mapping[str, Any],
    path: tuple[str | int, ...],
    version: str,
    out: Problems,
    base_dir: Path,
    env: Mapping[str, str],
    inline: list[PathLike],
) -> Credentials | None:
    """Read the credentials this API version needs; report missing, extra and unreadable ones."""
    where = (*path, "credentials")
    needed = NEEDED[version]
    values: dict[str, str] = {}
    for key in raw:
        if key not in needed:
            out.add(
                (*where, key),
                f"{key} is not used with API {version}",
                at_value=False,
                hint=f"API {version} uses {', '.join(needed)}",
            )
    for key in needed:
        if key not in raw:
            out.add(where, f"API {version} needs credentials.{key}", at_value=False)
            continue
        source = secret_source(raw[key])
        if source.kind == "inline" and key in SECRET_FIELDS:
            inline.append((*where, key))
        try:
            values[key] = read_secret(source, base_dir=base_dir, env=env)
        except SecretError as exc:
            out.add((*where, key), exc.message, hint=exc.hint, at_value=True)
    if len(values) != len(needed):
        return None
    if version == "2.0":
        return OAuthCredentials(values["client_id"], values["client_secret"])
    try:
        decode_secret_key(values["secret_key"])
    except ValueError as exc:
        out.add((*where, "secret_key"), str(exc), at_value=True)
        return None
    return HmacCredentials(
        values["access_key"], values["secret_key"], values["app_id"], values["app_key"]
    )


def _ca_bundle(
    value: Any, path: tuple[str | int, ...], out: Problems, base_dir: Path, *, only: bool
) -> str | None:
    """Return the absolute CA bundle path, or None (not set, or reported as a problem).

    The bundle is loaded here, as the client will load it, so a file that
    holds no usable certificate is reported at its place in the file by every
    command, not only when a cycle starts.
    """
    if value is None:
        return None
    bundle = base_dir / str(value)
    try:
        usable = bundle.is_file() and os.access(bundle, os.R_OK)
    except (OSError, ValueError):
        usable = False
    if not usable:
        out.add(
            (*path, "ca_bundle"),
            f"CA bundle {value} is not a readable file ({bundle})",
            at_value=True,
        )
        return None
    try:
        tls_context(str(bundle), only=only)
    except (OSError, ssl.SSLError) as exc:
        reason = getattr(exc, "reason", None) or getattr(exc, "strerror", None) or exc
        out.add(
            (*path, "ca_bundle"),
            f"CA bundle {value} holds no usable CA certificate ({reason})",
            hint="give a PEM file of CA certificates (-----BEGIN CERTIFICATE-----)",
            at_value=True,
        )
        return None
    return str(bundle)
