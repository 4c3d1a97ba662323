"""A PostgreSQL DSN: parsed by libpq, shown without its password.

The DSN is a secret (it may hold a password). What messages, logs and
``tagger status`` show of it is :attr:`DsnInfo.where` (``HOST:PORT/DBNAME``);
libpq's own parse errors quote pieces of the text, so those are masked
(:func:`scrub`) before they go anywhere.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

from tagger.logs.redact import MASK, REDACTOR
from tagger.state.errors import StateError

INSTALL_HINT = "pip install 'tagger[postgresql]'"
DEFAULT_PORT = "5432"

_QUOTED = re.compile(r'"([^"]*)"')
# Password-shaped pieces of a DSN that does not parse: URI userinfo, key=value.
_URI_PASSWORD = re.compile(r"://[^:/@\s]*:([^@\s]*)@")
_KV_PASSWORD = re.compile(r"password\s*=\s*('(?:[^'\\]|\\.)*'|\S+)", re.IGNORECASE)


class DriverMissing(StateError):
    """psycopg (the PostgreSQL driver) is not installed."""

    def __init__(self) -> None:
        super().__init__(
            "the PostgreSQL state backend needs psycopg 3 and psycopg_pool, which are not"
            f" installed: {INSTALL_HINT}"
        )


class DsnError(StateError):
    """A DSN that libpq cannot parse (the message never holds the password)."""


@dataclass(frozen=True)
class DsnInfo:
    """A parsed DSN: where it points (no password), the secrets to mask, how TLS is asked for.

    ``hosts`` are the hosts named (a directory: a Unix socket); ``sslmode``
    libpq's setting (``prefer`` when the DSN says nothing).
    """

    where: str
    secrets: tuple[str, ...] = field(default=(), repr=False)
    hosts: tuple[str, ...] = ("localhost",)
    sslmode: str = "prefer"

    @property
    def unverified_network(self) -> bool:
        """Return whether a connection may cross a network without verifying the server.

        False when ``sslmode`` is ``verify-full`` (``verify-ca`` does not check
        the name) or every host is a Unix socket or a loopback address.
        """
        if self.sslmode == "verify-full":
            return False
        return not all(_local(host) for host in self.hosts)


def _local(host: str) -> bool:
    """Return whether ``host`` is a Unix socket directory or a loopback address (pure)."""
    if host.startswith("/") or host.lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip("[]")).is_loopback
    except ValueError:
        return False


def require_driver() -> None:
    """Raise DriverMissing unless psycopg and psycopg_pool can be imported."""
    try:
        import psycopg  # noqa: F401
        import psycopg_pool  # noqa: F401
    except ImportError as exc:
        raise DriverMissing() from exc


def _keywords() -> frozenset[str]:
    from psycopg import pq

    return frozenset(o.keyword.decode() for o in pq.Conninfo.get_defaults())


def guessed_secrets(dsn: str) -> list[str]:
    """Return the DSN and every password-shaped piece of it, longest first (pure)."""
    found = [dsn]
    found += [m.group(1) for m in _URI_PASSWORD.finditer(dsn)]
    found += [m.group(1).strip("'") for m in _KV_PASSWORD.finditer(dsn)]
    return sorted({s for s in found if s}, key=len, reverse=True)


def scrub(
    text: str, dsn: str, secrets: tuple[str, ...] = (), *, quoted_pieces: bool = False
) -> str:
    """Return ``text`` (a driver's message) with the DSN's secrets masked and on one line.

    Masks the DSN, its password (``secrets`` and what looks like one) and
    whatever the log redactor knows; with ``quoted_pieces`` (a parse error,
    where libpq quotes the text it chokes on) also every quoted piece of the
    DSN that is not a libpq keyword.
    """
    for secret in sorted({*secrets, *guessed_secrets(dsn)}, key=len, reverse=True):
        if secret:
            text = text.replace(secret, MASK)
    if not quoted_pieces:
        return " ".join(REDACTOR.text(text).split())
    keywords = _keywords()

    def masked(match: re.Match[str]) -> str:
        piece = match.group(1)
        if len(piece) > 2 and piece in dsn and piece not in keywords:
            return f'"{MASK}"'
        return match.group(0)

    text = _QUOTED.sub(masked, text)
    return " ".join(REDACTOR.text(text).split())


def parse_dsn(dsn: str) -> DsnInfo:
    """Parse ``dsn`` with libpq; return where it points and its secrets.

    Raises DriverMissing when psycopg is not installed and DsnError (the
    password masked) when libpq cannot parse it or it names no database host.
    """
    require_driver()
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    try:
        parts = conninfo_to_dict(dsn)
    except psycopg.Error as exc:
        detail = scrub(str(exc), dsn, quoted_pieces=True)
        raise DsnError(f"the DSN does not parse: {detail}") from None
    password = str(parts.get("password") or "")
    hosts = str(parts.get("host") or parts.get("hostaddr") or "localhost").split(",")
    ports = str(parts.get("port") or "").split(",")
    if len(ports) == 1:
        ports = ports * len(hosts)
    pairs = [f"{h}:{p or DEFAULT_PORT}" for h, p in zip(hosts, ports, strict=False)]
    dbname = str(parts.get("dbname") or parts.get("user") or "")
    where = ",".join(pairs) + (f"/{dbname}" if dbname else "")
    secrets = tuple(s for s in (password, dsn) if s)
    sslmode = str(parts.get("sslmode") or "prefer")
    return DsnInfo(where=where, secrets=secrets, hosts=tuple(hosts), sslmode=sslmode)
