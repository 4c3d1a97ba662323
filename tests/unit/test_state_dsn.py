"""The DSN: where it points, shown without its password, and drivers' messages scrubbed."""

from __future__ import annotations

import pytest

from tagger.state.dsn import DsnError, guessed_secrets, parse_dsn, scrub
from tagger.state.sqlconn import to_pyformat

PASSWORD = "s3cret-dsn-41"


@pytest.mark.parametrize(
    ("dsn", "where"),
    [
        (f"postgresql://tagger:{PASSWORD}@db.internal:6543/ledger", "db.internal:6543/ledger"),
        ("postgresql://tagger@db.internal/ledger", "db.internal:5432/ledger"),
        (f"host=10.0.0.5 dbname=tags user=t password={PASSWORD}", "10.0.0.5:5432/tags"),
        ("host=/var/run/postgresql dbname=tags", "/var/run/postgresql:5432/tags"),
        ("postgresql://tagger@a,b:5433/ledger", "a:5432,b:5433/ledger"),
    ],
)
def test_where_names_host_port_and_database_never_the_password(dsn: str, where: str) -> None:
    info = parse_dsn(dsn)
    assert info.where == where
    assert PASSWORD not in repr(info)
    if PASSWORD in dsn:
        assert PASSWORD in info.secrets


@pytest.mark.parametrize(
    "dsn",
    [
        f"postgresql://tagger:{PASSWORD}@db/x",
        f"host=db password={PASSWORD} dbname=x",
        f"host=db password = '{PASSWORD}' dbname=x",
    ],
)
def test_the_password_is_guessed_even_from_a_dsn_that_may_not_parse(dsn: str) -> None:
    assert PASSWORD in guessed_secrets(dsn)
    text = f'error near "{PASSWORD}" in {dsn}'
    assert PASSWORD not in scrub(text, dsn) and dsn not in scrub(text, dsn)


def test_a_parse_error_masks_the_pieces_of_the_dsn_libpq_quotes() -> None:
    with pytest.raises(DsnError) as info:
        parse_dsn(f"host=db {PASSWORD}x")
    assert PASSWORD not in str(info.value)
    assert str(info.value).startswith("the DSN does not parse: missing")


def test_question_marks_become_psycopg_marks_and_numbered_ones_repeat() -> None:
    assert to_pyformat("SELECT a FROM t WHERE b = ? AND c LIKE 'x%'", ("v",)) == (
        "SELECT a FROM t WHERE b = %s AND c LIKE 'x%%'",
        ("v",),
    )
    sql, params = to_pyformat(
        "SELECT 1 WHERE CAST(?1 AS TEXT) IS NULL OR a = ?1 AND b = ?2", ("x", 2)
    )
    assert sql == "SELECT 1 WHERE CAST(%(p1)s AS TEXT) IS NULL OR a = %(p1)s AND b = %(p2)s"
    assert params == {"p1": "x", "p2": 2}
