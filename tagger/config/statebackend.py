"""The ``state:`` section: which ledger the configuration names, checked where it is written.

Absent, or ``backend: sqlite``: the SQLite file at ``state_path``.
``backend: postgresql`` needs ``dsn``, a secret like the credentials
(``{env:}``, ``{file:}``, ``{credential:}``, or inline with the usual warning).
The DSN is parsed here by libpq, so ``validate`` refuses what ``run`` would;
no message ever holds its password.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from tagger.config.secrets import SecretError, read_secret, secret_source
from tagger.state.dsn import INSTALL_HINT, DriverMissing, DsnError, parse_dsn
from tagger.state.target import StateBackend
from tagger.yamldoc.problems import PathLike, Problems

__all__ = ["build_state"]

_DSN_HINT = (
    "write it as postgresql://USER@HOST:PORT/DBNAME or as key=value pairs"
    " (host=... port=... dbname=... user=...)"
)


def build_state(
    section: Mapping[str, Any],
    out: Problems,
    *,
    base_dir: Path,
    env: Mapping[str, str],
    inline: list[PathLike],
) -> StateBackend:
    """Return the backend the (schema-valid) ``state`` section names.

    Problems are added to ``out`` at their place: a DSN without ``backend:
    postgresql`` or the reverse, an unreadable secret, a DSN libpq cannot
    parse, and the driver not installed (with the command that installs it).
    An inline DSN is added to ``inline``. Returns the SQLite default when
    the section is empty or in error.
    """
    backend = section.get("backend", "sqlite")
    if backend != "postgresql":
        if "dsn" in section:
            out.add(
                ("state", "dsn"),
                "state.dsn is only read with backend: postgresql; the ledger is the SQLite"
                " file at state_path",
                hint="add `backend: postgresql` to state, or remove dsn",
                at_value=False,
            )
        return StateBackend()
    if "dsn" not in section:
        out.add(
            ("state",),
            "backend postgresql needs state.dsn (the database to keep the ledger in)",
            hint="add `dsn: {env: TAGGER_DSN}` and set TAGGER_DSN to"
            " postgresql://USER@HOST:PORT/DBNAME",
            at_value=False,
        )
        return StateBackend()
    source = secret_source(section["dsn"])
    if source.kind == "inline":
        inline.append(("state", "dsn"))
    try:
        dsn = read_secret(source, base_dir=base_dir, env=env).strip()
    except SecretError as exc:
        out.add(("state", "dsn"), exc.message, hint=exc.hint, at_value=True)
        return StateBackend()
    try:
        info = parse_dsn(dsn)
    except DriverMissing as exc:
        out.add(("state", "backend"), str(exc), hint=INSTALL_HINT, at_value=True)
        return StateBackend()
    except DsnError as exc:
        out.add(("state", "dsn"), str(exc), hint=_DSN_HINT, at_value=True)
        return StateBackend()
    if info.unverified_network:
        out.warn(
            ("state", "dsn"),
            f"the state database {info.where} is reached over the network without verifying"
            f" the server (sslmode {info.sslmode}): the ledger and the password could go to"
            " an impostor",
            hint="add sslmode=verify-full (and sslrootcert=... for a private CA) to the DSN",
            at_value=True,
        )
    return StateBackend("postgresql", dsn, info.where)
