"""The ``state:`` section: SQLite by default, PostgreSQL with a DSN that hides its password."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tagger.config import load_config
from tests.support.config import ENV, MINIMAL, load, one_problem, write_config

PASSWORD = "s3cret-pw-7f2a"
DSN = f"postgresql://tagger:{PASSWORD}@127.0.0.1:5439/ledger"


def with_state(block: str) -> str:
    return MINIMAL + block


def test_no_state_section_means_the_sqlite_file(tmp_path: Path) -> None:
    config = load(tmp_path, MINIMAL)
    assert config.state.backend == "sqlite" and config.state.dsn is None
    sqlite = load(tmp_path, with_state("state:\n  backend: sqlite\n"))
    assert sqlite.state.backend == "sqlite"


def test_postgresql_reads_the_dsn_as_a_secret_and_names_it_without_password(
    tmp_path: Path,
) -> None:
    env = {**ENV, "TAGGER_DSN": DSN}
    config = load(
        tmp_path, with_state("state:\n  backend: postgresql\n  dsn: {env: TAGGER_DSN}\n"), env
    )
    assert config.state.backend == "postgresql"
    assert config.state.dsn == DSN
    assert config.state.where == "127.0.0.1:5439/ledger"
    assert PASSWORD in config.secret_values() and DSN in config.secret_values()
    for text in (repr(config), str(config), repr(config.state)):
        assert PASSWORD not in text


def test_key_value_dsn_from_a_file(tmp_path: Path) -> None:
    (tmp_path / "dsn").write_text(f"host=db.internal port=6543 dbname=tags password={PASSWORD}\n")
    config = load(tmp_path, with_state("state:\n  backend: postgresql\n  dsn: {file: dsn}\n"))
    assert config.state.where == "db.internal:6543/tags"


def test_an_unknown_backend_is_located(tmp_path: Path) -> None:
    problem = one_problem(tmp_path, with_state("state:\n  backend: mysql\n"))
    assert problem.path == "state.backend"
    assert (problem.line, problem.column) == (10, 12)
    assert problem.message == "must be one of: sqlite, postgresql"


def test_postgresql_without_a_dsn_is_located_with_the_fix(tmp_path: Path) -> None:
    problem = one_problem(tmp_path, with_state("state:\n  backend: postgresql\n"))
    assert problem.path == "state"
    assert "needs state.dsn" in problem.message
    assert "TAGGER_DSN" in problem.hint


def test_a_dsn_without_backend_postgresql_is_refused(tmp_path: Path) -> None:
    env = {**ENV, "TAGGER_DSN": DSN}
    for block in ("state:\n  dsn: {env: TAGGER_DSN}\n", "state:\n  backend: sqlite\n  dsn: x\n"):
        problem = one_problem(tmp_path, with_state(block), env)
        assert problem.path == "state.dsn"
        assert "only read with backend: postgresql" in problem.message
        assert "backend: postgresql" in problem.hint


@pytest.mark.parametrize(
    "bad",
    [
        f"postgresql://tagger:{PASSWORD}@[::1/ledger",
        f"host=db {PASSWORD}",
        f"postgresql://tagger:{PASSWORD}@db/ledger?nonsense=1",
    ],
)
def test_a_dsn_that_does_not_parse_is_located_without_its_password(
    tmp_path: Path, bad: str
) -> None:
    env = {**ENV, "TAGGER_DSN": bad}
    problem = one_problem(
        tmp_path, with_state("state:\n  backend: postgresql\n  dsn: {env: TAGGER_DSN}\n"), env
    )
    assert problem.path == "state.dsn"
    assert problem.message.startswith("the DSN does not parse")
    assert PASSWORD not in str(problem) and PASSWORD not in problem.hint
    assert "postgresql://USER@HOST:PORT/DBNAME" in problem.hint


def test_an_unset_dsn_variable_is_located(tmp_path: Path) -> None:
    problem = one_problem(
        tmp_path, with_state("state:\n  backend: postgresql\n  dsn: {env: TAGGER_DSN}\n")
    )
    assert problem.message == "environment variable TAGGER_DSN is not set"
    assert problem.path == "state.dsn"


def test_without_the_driver_the_error_says_how_to_install_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A None entry makes `import psycopg` fail as if it were not installed.
    monkeypatch.setitem(sys.modules, "psycopg", None)
    env = {**ENV, "TAGGER_DSN": DSN}
    problem = one_problem(
        tmp_path, with_state("state:\n  backend: postgresql\n  dsn: {env: TAGGER_DSN}\n"), env
    )
    assert problem.path == "state.backend"
    assert "pip install 'tagger[postgresql]'" in str(problem)
    assert PASSWORD not in str(problem)


def test_an_inline_dsn_in_a_readable_file_warns_without_showing_it(tmp_path: Path) -> None:
    text = with_state(f"state:\n  backend: postgresql\n  dsn: {DSN}\n")
    path = write_config(tmp_path, text, mode=0o644)
    config = load_config(path, env=ENV)
    (warning,) = config.warnings
    assert warning.path == "state.dsn" and warning.severity == "warning"
    assert "0644" in warning.message and PASSWORD not in str(warning)
    assert config.state.dsn == DSN


@pytest.mark.parametrize(
    ("dsn", "warned"),
    [
        ("postgresql://tagger@db.internal/ledger", True),
        ("postgresql://tagger@db.internal/ledger?sslmode=require", True),
        ("postgresql://tagger@db.internal/ledger?sslmode=verify-ca", True),
        ("postgresql://tagger@db.internal/ledger?sslmode=verify-full", False),
        ("postgresql://tagger@127.0.0.1:5432/ledger", False),
        ("postgresql://tagger@[::1]:5432/ledger", False),
        ("host=/var/run/postgresql dbname=ledger", False),
    ],
)
def test_a_dsn_that_does_not_verify_a_remote_server_warns(
    tmp_path: Path, dsn: str, warned: bool
) -> None:
    env = {**ENV, "TAGGER_DSN": dsn}
    config = load(
        tmp_path, with_state("state:\n  backend: postgresql\n  dsn: {env: TAGGER_DSN}\n"), env
    )
    found = [w for w in config.warnings if w.path == "state.dsn"]
    assert bool(found) is warned
    if warned:
        assert "without verifying the server" in found[0].message
        assert "sslmode=verify-full" in found[0].hint
