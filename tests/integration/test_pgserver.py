"""The throwaway PostgreSQL server the cluster tests run against."""

from __future__ import annotations

import psycopg

from testkit.pgserver import PgServer


def test_each_database_is_fresh_and_served_on_loopback(pg_server: PgServer, pg_dsn: str) -> None:
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        conn.execute("CREATE TABLE t (x int)")
        conn.execute("INSERT INTO t VALUES (1)")
        addr = conn.execute("SELECT inet_server_addr()::text").fetchone()
    assert addr is not None and addr[0].startswith("127.0.0.1")
    other = pg_server.database()
    with psycopg.connect(other, autocommit=True) as conn:
        tables = conn.execute("SELECT count(*) FROM pg_tables WHERE tablename = 't'").fetchone()
    assert tables == (0,)
