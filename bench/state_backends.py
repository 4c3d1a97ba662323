"""Benchmark: what a query layer would cost, and the two backends' write and read rates.

Usage: .venv/bin/python -m bench.state_backends [--statements N] [--writes N] [--no-pg | --dsn DSN]

Prints, each the median of 5 rounds:

- the import time every ``tagger`` command pays for a module (``python -X
  importtime``, cumulative microseconds of the top-level import) for
  ``tagger.state`` and ``psycopg``, and for ``sqlalchemy`` when it is
  installed (it is not a dependency: install it in a scratch venv to
  reproduce that line);
- the cost of one small read (a primary-key lookup in ``applied``) through
  raw ``sqlite3``, through the store (:meth:`StateStore._rows`), and through
  SQLAlchemy Core (``text()`` on an engine) when installed;
- write transactions per second of the store (``record_applied``, one
  transaction each) on SQLite and, unless ``--no-pg``, on a throwaway
  PostgreSQL server on 127.0.0.1 (fsync off: the figure is the round trips,
  not the disk), and that server's read cost; ``--dsn`` uses an empty
  database of a server already running instead.
"""

from __future__ import annotations

import argparse
import importlib.util
import re
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from tagger.state import AppliedRow, StateStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)
ROUNDS = 5
SQL = "SELECT tag_id FROM applied WHERE account = ? AND message_id = ?"


def import_us(module: str) -> int | None:
    """Return the cumulative import time of ``module`` in microseconds (None: not installed)."""
    if importlib.util.find_spec(module) is None:
        return None
    runs = []
    for _ in range(ROUNDS):
        done = subprocess.run(
            [sys.executable, "-X", "importtime", "-c", f"import {module}"],
            capture_output=True,
            text=True,
            check=True,
        )
        pattern = re.compile(rf"\|\s+(\d+)\s+\|\s{{1}}{re.escape(module)}$")
        lines = done.stderr.splitlines()
        found = [int(m.group(1)) for line in lines if (m := pattern.search(line))]
        runs.append(found[-1] if found else 0)
    return int(statistics.median(runs))


def per_call_us(call: Callable[[int], object], n: int) -> float:
    """Return the median over rounds of the microseconds one ``call(i)`` takes."""
    rounds = []
    for _ in range(ROUNDS):
        began = time.perf_counter()
        for i in range(n):
            call(i)
        rounds.append((time.perf_counter() - began) / n * 1e6)
    return statistics.median(rounds)


def fill(store: StateStore, rows: int) -> list[str]:
    """Record ``rows`` applied pairs in one transaction; return their message ids."""
    ids = [f"<m{i}@x>" for i in range(rows)]
    store.record_applied_many("a", (AppliedRow(m, "t", "r", "h", "live", T0) for m in ids))
    return ids


def reads(path: Path, store: StateStore, ids: list[str], n: int) -> dict[str, float]:
    """Return µs per lookup: raw sqlite3, the store, SQLAlchemy Core (when installed)."""
    raw = sqlite3.connect(path, isolation_level=None)
    out = {
        "raw sqlite3": per_call_us(
            lambda i: raw.execute(SQL, ("a", ids[i % len(ids)])).fetchall(), n
        ),
        "StateStore (sqlite)": per_call_us(lambda i: store._rows(SQL, ("a", ids[i % len(ids)])), n),
    }
    raw.close()
    if importlib.util.find_spec("sqlalchemy") is not None:
        import sqlalchemy

        engine = sqlalchemy.create_engine(f"sqlite:///{path}")
        query = sqlalchemy.text(SQL.replace("?", ":p", 1).replace("?", ":q", 1))
        with engine.connect() as conn:
            out["SQLAlchemy Core text()"] = per_call_us(
                lambda i: conn.execute(query, {"p": "a", "q": ids[i % len(ids)]}).fetchall(), n
            )
        engine.dispose()
    return out


def writes_per_s(store: StateStore, n: int, tag: str) -> float:
    """Return the store's write transactions per second (``record_applied``, one each)."""
    began = time.perf_counter()
    for i in range(n):
        store.record_applied(
            "a", f"<w{tag}{i}@x>", "t", rule_id="r", rule_hash="h", mode="live", at=T0
        )
    return n / (time.perf_counter() - began)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--statements", type=int, default=5000)
    parser.add_argument("--writes", type=int, default=300)
    parser.add_argument("--no-pg", action="store_true")
    parser.add_argument("--dsn", help="an empty PostgreSQL database to use (default: start one)")
    args = parser.parse_args()
    for module in ("tagger.state", "psycopg", "sqlalchemy"):
        took = import_us(module)
        shown = "not installed" if took is None else f"{took / 1000:.1f} ms"
        print(f"import {module}: {shown}")
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "state.db"
        with StateStore.open(path) as store:
            ids = fill(store, 10_000)
            for name, us in reads(path, store, ids, args.statements).items():
                print(f"one primary-key read, {name}: {us:.1f} µs")
            print(f"write transactions/s, sqlite: {writes_per_s(store, args.writes, 's'):.0f}")
    if args.no_pg:
        return
    if args.dsn:
        postgresql_figures(args.dsn, args.writes)
        return
    from testkit.pgserver import PgServer

    server = PgServer.start()
    try:
        postgresql_figures(server.database(), args.writes)
    finally:
        server.stop()


def postgresql_figures(dsn: str, writes: int) -> None:
    """Print the store's read cost and write rate on the (empty) database ``dsn``."""
    with tempfile.TemporaryDirectory() as tmp:
        pg = StateStore.open_postgresql(Path(tmp) / "state.db", dsn)
        try:
            ids = fill(pg, 10_000)
            us = per_call_us(lambda i: pg._rows(SQL, ("a", ids[i % len(ids)])), 1000)
            print(f"one primary-key read, StateStore (postgresql): {us:.1f} µs")
            print(
                f"write transactions/s, postgresql (fsync off): {writes_per_s(pg, writes, 'p'):.0f}"
            )
        finally:
            pg.close()


if __name__ == "__main__":
    main()
