"""Leases, fencing and claims on a real PostgreSQL server."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator

import psycopg
import pytest

from tagger.cluster import claims, leases
from tagger.cluster.dbtime import NOW_US
from tagger.cluster.schema import ensure_schema
from tagger.cluster.tenure import LeaseFence, Tenure
from tagger.state.errors import LeaseLost

# The ledger's applied table, as far as claims read it.
APPLIED = "CREATE TABLE applied (account TEXT, message_id TEXT, tag_id TEXT)"


@pytest.fixture
def db(pg_dsn: str) -> Iterator[psycopg.Connection[tuple[object, ...]]]:
    conn = psycopg.connect(pg_dsn, autocommit=True)
    ensure_schema(conn)
    ensure_schema(conn)  # any number of times
    conn.execute(APPLIED)
    leases.ensure_accounts(conn, ["acme", "globex"])
    yield conn
    conn.close()


def _wait_expired(conn: psycopg.Connection[tuple[object, ...]], account: str) -> None:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        row = conn.execute(
            f"SELECT expires_at <= {NOW_US} FROM leases WHERE account = %s", [account]
        ).fetchone()
        if row and row[0]:
            return
        time.sleep(0.02)
    raise AssertionError("lease did not expire")


def test_take_renew_release_and_epochs(db: psycopg.Connection[tuple[object, ...]]) -> None:
    assert leases.take(db, "acme", "a#1", 30) == 1
    assert leases.take(db, "acme", "b#1", 30) is None  # held and not expired
    assert leases.renew(db, "a#1", {"acme": 1}, 30) == {"acme"}
    assert leases.renew(db, "a#1", {"acme": 0}, 30) == set()  # wrong epoch
    assert leases.renew(db, "b#1", {"acme": 1}, 30) == set()  # not the owner
    assert leases.release(db, "acme", "a#1", 1)
    assert leases.take(db, "acme", "b#1", 30) == 2
    assert not leases.release(db, "acme", "a#1", 1)
    assert leases.takeable(db, ["acme", "globex", "nobody"]) == ["globex"]


def test_an_expired_lease_is_taken_at_the_next_epoch_and_the_old_owner_cannot_renew(
    db: psycopg.Connection[tuple[object, ...]],
) -> None:
    assert leases.take(db, "acme", "a#1", 0.05) == 1
    _wait_expired(db, "acme")
    assert leases.takeable(db, ["acme"]) == ["acme"]
    assert leases.take(db, "acme", "b#1", 30) == 2
    assert leases.renew(db, "a#1", {"acme": 1}, 30) == set()


def test_fence_refuses_the_old_epoch_and_drops_the_account(
    db: psycopg.Connection[tuple[object, ...]],
) -> None:
    tenure = Tenure("a#1", "a", 30, 5)
    epoch = leases.take(db, "acme", "a#1", 0.05)
    assert epoch is not None
    tenure.took("acme", epoch, time.monotonic())
    _wait_expired(db, "acme")
    assert leases.take(db, "acme", "b#1", 30) == 2
    fence = LeaseFence(tenure, "acme", epoch)
    with pytest.raises(LeaseLost, match="acme"):
        fence.check(lambda sql, params: db.execute(sql, params).fetchall())
    assert tenure.held() == {}
    assert tenure.lost and tenure.lost[0][0] == "acme"


def test_a_takeover_waits_for_a_fenced_write_under_way(
    pg_dsn: str, db: psycopg.Connection[tuple[object, ...]]
) -> None:
    tenure = Tenure("a#1", "a", 30, 5)
    epoch = leases.take(db, "acme", "a#1", 1.0)
    assert epoch == 1
    tenure.took("acme", epoch, time.monotonic())
    writer = psycopg.connect(pg_dsn)
    fence = LeaseFence(tenure, "acme", epoch)
    fence.check(lambda sql, params: writer.execute(sql, params).fetchall())  # txn open
    writer.execute("INSERT INTO applied VALUES ('acme', 'm1', 't1')")
    _wait_expired(db, "acme")
    result: list[int | None] = []
    taker = psycopg.connect(pg_dsn, autocommit=True)
    thread = threading.Thread(target=lambda: result.append(leases.take(taker, "acme", "b#1", 30)))
    thread.start()
    thread.join(0.5)
    assert thread.is_alive() and not result  # waits for the fenced transaction
    writer.commit()
    thread.join(10)
    assert result == [2]
    assert db.execute("SELECT count(*) FROM applied").fetchone() == (1,)
    writer.close()
    taker.close()


def test_claims_mine_taken_in_doubt_and_withdrawn(
    db: psycopg.Connection[tuple[object, ...]],
) -> None:
    assert leases.take(db, "acme", "a#1", 0.05) == 1
    assert claims.claim(db, "acme", "m1", "t1", "r1", "a#1", 1) == "mine"
    assert claims.claim(db, "acme", "m1", "t1", "r1", "a#1", 1) == "mine"  # again: still mine
    assert claims.claim(db, "acme", "m2", "t1", "r1", "a#1", 1) == "mine"
    assert claims.claim(db, "acme", "m3", "t1", "r1", "a#1", 1) == "mine"
    claims.withdraw(db, "acme", "m3", "t1", "a#1", 1)  # not sent
    db.execute("INSERT INTO applied VALUES ('acme', 'm2', 't1')")  # outcome recorded
    assert claims.in_doubt(db) == []  # the holder's own claims are not in doubt
    _wait_expired(db, "acme")
    with pytest.raises(LeaseLost):
        claims.claim(db, "acme", "m4", "t1", "r1", "a#1", 1)
    assert [c.message_id for c in claims.in_doubt(db)] == ["m1"]  # expired: in doubt
    assert leases.take(db, "acme", "b#1", 30) == 2
    doubtful = claims.in_doubt(db, "acme")
    assert [(c.message_id, c.owner, c.epoch) for c in doubtful] == [("m1", "a#1", 1)]
    assert claims.in_doubt_counts(db) == {"acme": 1}
    # The new owner cannot claim a pair in doubt; it can claim a fresh one.
    assert claims.claim(db, "acme", "m1", "t1", "r1", "b#1", 2) == "taken"
    assert claims.claim(db, "acme", "m3", "t1", "r1", "b#1", 2) == "mine"
    assert claims.forget(db, "acme", [("m1", "t1")]) == 1
    assert claims.in_doubt(db) == []
    assert claims.claim(db, "acme", "m1", "t1", "r1", "b#1", 2) == "mine"
