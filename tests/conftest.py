"""Shared pytest set-up.

Property tests run with a fixed derandomized seed under CI, so a CI run is
repeatable; elsewhere hypothesis explores new inputs on every run (and keeps
any failure it finds in its example database).
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import settings

from testkit.pgserver import PgServer, PgUnavailable

# The suite is split into unit/ (no server, no process), integration/ (a real
# HTTP server on 127.0.0.1, in process) and e2e/ (tagger processes, signals,
# kills); the helpers they share are the tests.support package, and those the
# benchmarks share too are the top-level testkit package. pytest's pythonpath
# setting (pyproject.toml) puts the checkout on the path for both.

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PgServer]:
    """A throwaway PostgreSQL server on 127.0.0.1 for the whole run.

    Skipped when it cannot be started, except under CI, where `.ci/run`
    installs PostgreSQL and a server that does not start is a failure.
    """
    try:
        server = PgServer.start()
    except PgUnavailable as exc:
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required under CI: {exc}")
        pytest.skip(f"PostgreSQL unavailable: {exc}")
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def pg_dsn(pg_server: PgServer) -> str:
    """The DSN of a fresh, empty database on the run's PostgreSQL server."""
    return pg_server.database()
