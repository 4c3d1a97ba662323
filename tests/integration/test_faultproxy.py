"""The fault proxy in front of the real PostgreSQL server: pass, blackhole, reset, pass again.

Each fault is seen from a psycopg client, as a node would see its database
connection cut: a query through ``blackhole`` gets no answer until the
client's own deadline, one through ``reset`` fails at once, and the proxy
serves new connections again after ``pass``. Every wait is bounded.
"""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator

import psycopg
import pytest
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from testkit.faultproxy import FaultProxy
from testkit.pgserver import PgServer

# The client's own deadline for one query or connection in these tests.
CLIENT_TIMEOUT_S = 1.0


def through(dsn: str, proxy: FaultProxy) -> str:
    """Return ``dsn`` pointed at ``proxy`` (same database and user)."""
    return make_conninfo(dsn, host=proxy.host, port=str(proxy.port))


@pytest.fixture
def proxy(pg_server: PgServer) -> Iterator[FaultProxy]:
    with FaultProxy("127.0.0.1", pg_server.port) as running:
        yield running


def query(dsn: str) -> int:
    """Connect, run ``SELECT 41 + 1`` and return the answer (connect bounded by the client)."""
    with psycopg.connect(dsn, connect_timeout=int(CLIENT_TIMEOUT_S * 5), autocommit=True) as conn:
        row = conn.execute("SELECT 41 + 1").fetchone()
    assert row is not None
    return int(row[0])


def test_pass_relays_a_session_to_the_server(proxy: FaultProxy, pg_dsn: str) -> None:
    dsn = through(pg_dsn, proxy)
    assert conninfo_to_dict(dsn)["port"] == str(proxy.port)
    assert query(dsn) == 42
    assert proxy.accepted >= 1
    with psycopg.connect(dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (x int)")
        conn.execute("INSERT INTO t SELECT generate_series(1, 20000)")
        # An answer larger than one relayed chunk arrives whole.
        rows = conn.execute("SELECT repeat('x', 1000) FROM t").fetchall()
    assert len(rows) == 20000 and rows[0][0] == "x" * 1000


def test_blackhole_leaves_the_client_waiting_until_its_own_deadline(
    proxy: FaultProxy, pg_dsn: str
) -> None:
    dsn = through(pg_dsn, proxy)
    conn = psycopg.connect(dsn, autocommit=True)
    outcome: list[BaseException | object] = []

    def hung_query() -> None:
        try:
            outcome.append(conn.execute("SELECT 1").fetchone())
        except BaseException as exc:
            outcome.append(exc)

    try:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        proxy.set_mode("blackhole")
        worker = threading.Thread(target=hung_query, daemon=True)
        worker.start()
        # The client's deadline passes with no answer and no error.
        worker.join(CLIENT_TIMEOUT_S)
        assert worker.is_alive() and outcome == []
        # A new connection is accepted and read, but never answered: the
        # client's connect timeout is what ends it.
        accepted = proxy.accepted
        started = time.monotonic()
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(dsn, connect_timeout=2).close()
        assert time.monotonic() - started >= 1.5
        assert proxy.accepted > accepted
        # A reset reaches the hung connection too: the client fails at once.
        proxy.set_mode("reset")
        worker.join(10)
        assert not worker.is_alive()
        assert len(outcome) == 1 and isinstance(outcome[0], psycopg.OperationalError)
    finally:
        conn.close()
    proxy.set_mode("pass")
    assert query(dsn) == 42


def test_reset_fails_open_and_new_connections_at_once(proxy: FaultProxy, pg_dsn: str) -> None:
    dsn = through(pg_dsn, proxy)
    conn = psycopg.connect(dsn, autocommit=True)
    try:
        assert conn.execute("SELECT 1").fetchone() == (1,)
        proxy.set_mode("reset")
        assert proxy.open_connections == 0
        started = time.monotonic()
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT 1")
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(dsn, connect_timeout=10).close()
        # Refused by RST, not by a deadline.
        assert time.monotonic() - started < 5
    finally:
        conn.close()
    proxy.set_mode("pass")
    assert query(dsn) == 42


def test_a_raw_connection_sees_the_rst(pg_server: PgServer) -> None:
    """Open and new connections end with RST (recv raises), not with FIN (recv gives b"")."""
    with FaultProxy("127.0.0.1", pg_server.port) as proxy:
        with socket.create_connection((proxy.host, proxy.port), timeout=5) as sock:
            proxy.wait_connections(1)
            proxy.set_mode("reset")
            with pytest.raises(ConnectionResetError):
                sock.recv(1)
        # A new one may see the RST as early as its connect.
        with (
            pytest.raises(ConnectionResetError),
            socket.create_connection((proxy.host, proxy.port), timeout=5) as sock,
        ):
            sock.sendall(b"\x00" * 8)
            sock.recv(1)


def test_connections_past_the_bound_are_reset(pg_server: PgServer, pg_dsn: str) -> None:
    with FaultProxy("127.0.0.1", pg_server.port, max_connections=1) as proxy:
        dsn = through(pg_dsn, proxy)
        with psycopg.connect(dsn, autocommit=True) as held:
            assert proxy.open_connections == 1
            with pytest.raises(psycopg.OperationalError):
                psycopg.connect(dsn, connect_timeout=10).close()
            assert proxy.refused == 1
            assert held.execute("SELECT 1").fetchone() == (1,)
        # The held connection's end frees its place.
        deadline = time.monotonic() + 10
        while proxy.open_connections and time.monotonic() < deadline:
            time.sleep(0.02)
        assert query(dsn) == 42


def test_close_ends_every_connection_and_thread(pg_server: PgServer, pg_dsn: str) -> None:
    proxy = FaultProxy("127.0.0.1", pg_server.port)
    dsn = through(pg_dsn, proxy)
    conn = psycopg.connect(dsn, autocommit=True)
    try:
        proxy.wait_connections(1)
        proxy.close()
        with pytest.raises(psycopg.OperationalError):
            conn.execute("SELECT 1")
    finally:
        conn.close()
    with pytest.raises(OSError):
        socket.create_connection((proxy.host, proxy.port), timeout=5).close()
    names = {t.name for t in threading.enumerate()}
    assert not any(name.startswith(f"faultproxy-{proxy.port}") for name in names)


def test_bad_input_is_refused_with_the_fix() -> None:
    with pytest.raises(ValueError, match=r"not a loopback address: give 127\.0\.0\.1"):
        FaultProxy("192.0.2.1", 5432)
    with pytest.raises(ValueError, match=r"port 0 is not in 1\.\.65535"):
        FaultProxy("127.0.0.1", 0)
    with pytest.raises(ValueError, match="at least 1"):
        FaultProxy("127.0.0.1", 5432, max_connections=0)
    with FaultProxy("::1", 5432) as proxy:
        with pytest.raises(ValueError, match="use one of pass, blackhole, reset"):
            proxy.set_mode("drop")  # type: ignore[arg-type]
        assert proxy.mode == "pass"


class Sink:
    """A loopback TCP server that echoes what it receives and counts the bytes (one client)."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port: int = self.server.getsockname()[1]
        self.received = 0
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        conn, _ = self.server.accept()
        with conn:
            while data := conn.recv(65536):
                self.received += len(data)
                conn.sendall(data)

    def close(self) -> None:
        self.server.close()


def test_blackhole_reads_everything_and_forwards_nothing() -> None:
    sink = Sink()
    try:
        with (
            FaultProxy("127.0.0.1", sink.port) as proxy,
            socket.create_connection((proxy.host, proxy.port), timeout=5) as sock,
        ):
            sock.sendall(b"ping")
            assert sock.recv(4) == b"ping"
            proxy.set_mode("blackhole")
            # Far more than the kernel's buffers hold: only a proxy that keeps
            # reading lets it all through.
            sock.sendall(b"x" * (8 << 20))
            assert sink.received == 4
            sock.settimeout(CLIENT_TIMEOUT_S)
            with pytest.raises(TimeoutError):
                sock.recv(1)
            assert sink.received == 4
    finally:
        sink.close()
