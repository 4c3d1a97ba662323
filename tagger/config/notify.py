"""The ``notify:`` section: webhooks told when a rule is paused, a reload is rejected or an
account's cycle cannot run.

Each target is a URL (a secret: Slack and Teams webhook URLs carry their
token, so it may come from ``{env:}``, ``{file:}`` or ``{credential:}`` and is
never logged), a body format (``json``, ``slack`` or ``teams``), the events
it wants, how soon the same event may be sent again, and the delivery bounds.
"""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from tagger.config.durations import DurationError, parse_duration
from tagger.config.secrets import SecretError, read_secret, secret_source
from tagger.yamldoc.problems import PathLike, Problems

Format = Literal["json", "slack", "teams"]
EVENTS = ("rule_paused", "reload_rejected", "account_failing")


@dataclass(frozen=True)
class NotifyTarget:
    """One webhook. ``url`` is secret: it is kept out of ``repr`` and never logged."""

    url: str = field(repr=False)
    format: Format = "json"
    events: frozenset[str] = frozenset(EVENTS)
    repeat_after: timedelta = timedelta(hours=1)
    timeout_s: float = 10.0
    max_attempts: int = 3
    index: int = 0

    @property
    def name(self) -> str:
        """Return how logs name the target: ``notify[0] (slack)``, never its URL."""
        return f"notify[{self.index}] ({self.format})"


def is_loopback_host(host: str) -> bool:
    """Return True for 127.0.0.0/8, ::1 and ``localhost``."""
    if host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def check_url(text: str) -> str | None:
    """Return what is wrong with a webhook URL (None when it is usable); never echoes it.

    https only, except plain http to a loopback host (a local relay or test
    receiver); no user name or password in it.
    """
    parts = urlsplit(text)
    scheme = parts.scheme.lower()
    if scheme not in ("http", "https") or not parts.hostname:
        return "the webhook URL must be a full https:// URL"
    if parts.username or parts.password:
        return "the webhook URL must not contain a user name or password"
    if scheme == "http" and not is_loopback_host(parts.hostname):
        return (
            "the webhook URL uses plain http: only https is allowed "
            "(http is accepted for 127.0.0.1, ::1 and localhost only)"
        )
    return None


def build_notify(
    items: Sequence[Mapping[str, Any]],
    out: Problems,
    *,
    base_dir: Path,
    env: Mapping[str, str],
    inline: list[PathLike],
) -> tuple[NotifyTarget, ...]:
    """Return the webhook targets of the (schema-valid) ``notify`` list.

    Problems (an unreadable secret, a bad URL, a bad duration) are added to
    ``out`` at their value; inline URLs are added to ``inline`` (the caller
    warns when the file is readable by others).
    """
    targets = []
    for index, item in enumerate(items):
        where: tuple[str | int, ...] = ("notify", index)
        source = secret_source(item["url"])
        if source.kind == "inline":
            inline.append((*where, "url"))
        try:
            url = read_secret(source, base_dir=base_dir, env=env).strip()
        except SecretError as exc:
            out.add((*where, "url"), exc.message, hint=exc.hint, at_value=True)
            continue
        wrong = check_url(url)
        if wrong is not None:
            out.add((*where, "url"), wrong, at_value=True)
            continue
        repeat = timedelta(hours=1)
        if "repeat_after" in item:
            try:
                repeat = parse_duration(item["repeat_after"])
            except DurationError as exc:
                out.add((*where, "repeat_after"), str(exc), at_value=True)
                continue
        targets.append(
            NotifyTarget(
                url=url,
                format=item.get("format", "json"),
                events=frozenset(item.get("events", EVENTS)),
                repeat_after=repeat,
                timeout_s=float(item.get("timeout_s", 10)),
                max_attempts=int(item.get("max_attempts", 3)),
                index=index,
            )
        )
    return tuple(targets)
