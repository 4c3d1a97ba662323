"""A throwaway PostgreSQL server on 127.0.0.1 for tests and benchmarks.

:class:`PgServer` runs ``initdb`` into a temporary directory and ``pg_ctl``
to start a server listening on 127.0.0.1 only, on a free port, with its
socket in that directory; :meth:`PgServer.stop` stops it and removes the
directory. When the process runs as root (PostgreSQL refuses to), the server
runs as the ``postgres`` system user that Debian's package creates.

:meth:`PgServer.database` creates a fresh, empty database and returns its
DSN, so each test gets its own ledger on one server.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

__all__ = ["PgServer", "PgUnavailable", "find_bin"]

# Seconds the server may take to start or stop on a busy machine.
START_TIMEOUT_S = 60
SUPERUSER = "tagger_test"


class PgUnavailable(RuntimeError):
    """PostgreSQL's programs are missing or the server could not be started (says why)."""


def find_bin(name: str) -> str | None:
    """Return the path of PostgreSQL program ``name`` (PATH first, then Debian's place), or None."""
    found = shutil.which(name)
    if found:
        return found
    for candidate in sorted(glob.glob(f"/usr/lib/postgresql/*/bin/{name}"), reverse=True):
        if os.access(candidate, os.X_OK):
            return candidate
    return None


def _free_port() -> int:
    """Return a TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _demote() -> tuple[Callable[[], None] | None, int | None, int | None]:
    """Return (preexec function, uid, gid) that run a child as ``postgres`` when we are root."""
    if os.geteuid() != 0:
        return None, None, None
    try:
        entry = pwd.getpwnam("postgres")
    except KeyError as exc:
        raise PgUnavailable("running as root and there is no `postgres` user to run as") from exc
    uid, gid = entry.pw_uid, entry.pw_gid

    def preexec() -> None:
        os.setgid(gid)
        os.setuid(uid)

    return preexec, uid, gid


class PgServer:
    """A running throwaway PostgreSQL server (see module docstring)."""

    def __init__(self, root: Path, port: int, pg_ctl: str, preexec: Callable[[], None] | None):
        self.root = root
        self.port = port
        self._pg_ctl = pg_ctl
        self._preexec = preexec
        self.data = root / "data"

    @property
    def admin_dsn(self) -> str:
        """The DSN of the server's ``postgres`` database as the test superuser."""
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/postgres"

    def dsn(self, database: str) -> str:
        """Return the DSN of ``database`` on this server."""
        return f"postgresql://{SUPERUSER}@127.0.0.1:{self.port}/{database}"

    @classmethod
    def start(cls, *, settings: dict[str, str] | None = None) -> PgServer:
        """Create and start a server; PgUnavailable (saying why) when that is impossible.

        ``settings`` are extra ``postgresql.conf`` lines (name → value).
        """
        initdb, pg_ctl = find_bin("initdb"), find_bin("pg_ctl")
        if initdb is None or pg_ctl is None:
            raise PgUnavailable("initdb/pg_ctl not found (install Debian's `postgresql` package)")
        preexec, uid, gid = _demote()
        root = Path(tempfile.mkdtemp(prefix="tagger-pg-"))
        if uid is not None and gid is not None:
            os.chown(root, uid, gid)
        port = _free_port()
        server = cls(root, port, pg_ctl, preexec)
        try:
            server._run(
                [
                    initdb,
                    "-D",
                    str(server.data),
                    "-U",
                    SUPERUSER,
                    "--auth=trust",
                    "-E",
                    "UTF8",
                    "--no-sync",
                    "--locale=C",
                ]
            )
            conf = {
                "listen_addresses": "'127.0.0.1'",
                "port": str(port),
                "unix_socket_directories": f"'{root}'",
                "fsync": "off",
                "full_page_writes": "off",
                "max_connections": "200",
                "log_min_messages": "warning",
            }
            conf.update(settings or {})
            with (server.data / "postgresql.conf").open("a", encoding="utf-8") as fh:
                fh.writelines(f"{name} = {value}\n" for name, value in conf.items())
            server._run(
                [
                    pg_ctl,
                    "-D",
                    str(server.data),
                    "-l",
                    str(root / "server.log"),
                    "-w",
                    "-t",
                    str(START_TIMEOUT_S),
                    "start",
                ]
            )
        except BaseException:
            server.stop()
            raise
        return server

    def _run(self, argv: list[str]) -> None:
        """Run a PostgreSQL program as the server's user; PgUnavailable when it fails."""
        try:
            done = subprocess.run(  # noqa: S603 - our own PostgreSQL programs
                argv,
                preexec_fn=self._preexec,
                capture_output=True,
                text=True,
                timeout=START_TIMEOUT_S + 30,
                stdin=subprocess.DEVNULL,
                cwd=self.root,
                check=False,
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise PgUnavailable(f"{Path(argv[0]).name}: {exc}") from exc
        if done.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise PgUnavailable(
                f"{Path(argv[0]).name} exited {done.returncode}: {done.stderr.strip()[-2000:]}"
                f"{tail}"
            )

    def database(self, prefix: str = "t") -> str:
        """Create a new empty database; returns its DSN."""
        import psycopg

        name = f"{prefix}_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin_dsn, autocommit=True) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')
        return self.dsn(name)

    def restart(self) -> None:
        """Restart the server (fast shutdown: every connection is cut) and wait until it is up."""
        log = str(self.root / "server.log")
        wait = ["-w", "-t", str(START_TIMEOUT_S)]
        self._run([self._pg_ctl, "-D", str(self.data), "-l", log, "-m", "fast", *wait, "restart"])

    def stop(self) -> None:
        """Stop the server (fast shutdown) and remove its directory; idempotent."""
        if (self.data / "postmaster.pid").exists():
            with contextlib.suppress(PgUnavailable):
                self._run([self._pg_ctl, "-D", str(self.data), "-m", "immediate", "-w", "stop"])
        deadline = time.monotonic() + 10
        while (self.data / "postmaster.pid").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        shutil.rmtree(self.root, ignore_errors=True)
