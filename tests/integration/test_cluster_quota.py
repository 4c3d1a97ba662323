"""One quota per application across nodes, kept in a real PostgreSQL database.

The bucket's turns are checked on the database's own clock (the send times
it hands out), never on the wall clock of the test: whatever the machine's
load, no window of turns may hold more than the bucket allows.
"""

from __future__ import annotations

import asyncio
import logging
import math
import threading
import time
from dataclasses import replace
from typing import Any

import psycopg
import pytest
import structlog
from psycopg_pool import ConnectionPool

from tagger.cluster import buckets
from tagger.cluster.buckets import ensure_schema, learn, read_bucket, take
from tagger.cluster.quota import SharedQuota
from tagger.mimecast.client import MimecastClient
from tagger.mimecast.errors import QuotaDeferred
from tagger.mimecast.pacing import cycle_bound
from tagger.mimecast.quota import quota_fingerprint
from tagger.mimecast.ratelimit import OutOfTime, RateLimitGate, RateLimitInfo
from tagger.mimecast.settings import AccountSettings, OAuthCredentials
from tagger.mimecast.sharedgate import GateRegistry
from tagger.simulator import Simulator, SimulatorConfig
from tagger.simulator.config import INFO
from tagger.simulator.credentials import DEMO
from tests.support.client import FakeTime
from tests.support.tcpcut import CuttableRelay

BUCKET = "credentials:" + "0" * 32
PATH = "/api/message-finder/get-message-info"
NO_HEADERS = RateLimitInfo()


def _conn(dsn: str) -> psycopg.Connection[Any]:
    conn = psycopg.connect(dsn, autocommit=True)
    ensure_schema(conn)
    return conn


async def _answer(gate: RateLimitGate, info: RateLimitInfo, throttled: bool = False) -> None:
    """Send one call through ``gate`` and settle it with the headers ``info``."""
    ticket = await gate.acquire(math.inf)
    assert gate.claim(ticket)
    gate.settle(ticket, info, throttled)


def _gate() -> RateLimitGate:
    return RateLimitGate(time.monotonic, asyncio.sleep, name=PATH)


def _conforms(send_at_us: list[float], rate: float, burst: int) -> list[tuple[int, int]]:
    """Return the windows of turns that hold more than ``burst`` + rate x their span."""
    times = sorted(send_at_us)
    wrong = []
    for i in range(len(times)):
        for j in range(i, len(times)):
            allowed = burst + (times[j] - times[i]) / 1e6 * rate + 1e-6
            if j - i + 1 > allowed:
                wrong.append((i, j))
    return wrong


def test_two_nodes_taking_at_once_never_exceed_the_bucket(pg_dsn: str) -> None:
    rate, burst, per_node = 50.0, 5, 120
    with _conn(pg_dsn) as conn:
        learn(conn, BUCKET, PATH, rate, burst, "seed")
    granted: list[list[float]] = [[], []]
    start = threading.Barrier(2)

    def node(k: int) -> None:
        with _conn(pg_dsn) as conn:
            start.wait()
            for _ in range(per_node):
                grant = take(conn, BUCKET, PATH, math.inf)
                assert grant.granted and grant.wait_s >= 0
                granted[k].append(grant.send_at_us)

    threads = [threading.Thread(target=node, args=(k,)) for k in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    turns = granted[0] + granted[1]
    assert len(turns) == 2 * per_node
    assert _conforms(turns, rate, burst) == []
    # 240 turns at 50/s from a full bucket of 5: the last comes (240 - 5) / 50 s after the first.
    assert (max(turns) - min(turns)) / 1e6 >= (2 * per_node - burst) / rate - 1e-6
    with _conn(pg_dsn) as conn:
        row = read_bucket(conn, BUCKET, PATH)
    assert row is not None and row.granted == 2 * per_node


def test_a_turn_beyond_the_wait_allowed_reserves_nothing(pg_dsn: str) -> None:
    with _conn(pg_dsn) as conn:
        learn(conn, BUCKET, PATH, 1.0, 1, "seed")  # one call a second
        first = take(conn, BUCKET, PATH, 0.0)
        refused = [take(conn, BUCKET, PATH, 0.1) for _ in range(5)]
        row = read_bucket(conn, BUCKET, PATH)
        later = take(conn, BUCKET, PATH, math.inf)
    assert first.granted
    assert not any(g.granted for g in refused)
    assert all(0.5 < g.wait_s <= 1.0 for g in refused)
    assert row is not None and row.granted == 1
    # Nothing was reserved by the refused takes: the next turn is the second one.
    assert later.granted and later.send_at_us - first.send_at_us == pytest.approx(1e6, abs=1)


def test_a_bucket_nobody_learned_grants_at_once_and_says_so(pg_dsn: str) -> None:
    with _conn(pg_dsn) as conn:
        grant = take(conn, BUCKET, PATH, 0.0)
        assert grant.granted and not grant.known
        row = read_bucket(conn, BUCKET, PATH)
    assert row is not None and (row.interval_s, row.granted) == (0.0, 1)  # counted, unpaced


def test_the_first_view_allows_for_the_calls_other_nodes_let_out_meanwhile(pg_dsn: str) -> None:
    with _conn(pg_dsn) as conn:
        for _node in range(3):  # three nodes let one call out each, nothing known yet
            assert not take(conn, BUCKET, PATH, 0.0).known
        # One node's answer: 9 of 10 left (its own call); the two others may not be in it.
        # (One request back every 2 s: the loop below is far quicker than a refill.)
        learn(conn, BUCKET, PATH, 0.5, 10, "node-a", exact=True, remaining=9, reset_s=2.0)
        granted = 0
        while take(conn, BUCKET, PATH, 0.0).granted and granted < 20:
            granted += 1
    assert granted == 7


def test_a_node_lets_one_call_out_to_an_unlearned_bucket_until_it_is_answered(
    pg_dsn: str,
) -> None:
    async def scenario() -> None:
        quota = SharedQuota.connect(pg_dsn, "node-a#1")
        try:
            await quota.turn(BUCKET, PATH, math.inf)  # nothing learned: out at once
            with pytest.raises(OutOfTime):
                await quota.turn(BUCKET, PATH, 0.2)  # the first call is not answered yet
            second = asyncio.create_task(quota.turn(BUCKET, PATH, math.inf))
            await asyncio.sleep(0.05)
            assert not second.done()
            quota.learned(BUCKET, PATH, _gate(), NO_HEADERS, False)  # its answer came
            await asyncio.wait_for(second, 10)
        finally:
            await asyncio.to_thread(quota.close)

    asyncio.run(scenario())


def test_the_slowest_recent_view_of_the_quota_wins_until_it_is_stale(pg_dsn: str) -> None:
    with _conn(pg_dsn) as conn:
        learn(conn, BUCKET, PATH, 10.0, 20, "node-a")
        learn(conn, BUCKET, PATH, 4.0, 50, "node-b")  # slower: wins
        learn(conn, BUCKET, PATH, 8.0, 30, "node-a")  # faster, while b's view is fresh
        row = read_bucket(conn, BUCKET, PATH)
        assert row is not None
        assert (row.interval_s, row.burst, row.learned_by) == (0.25, 20, "node-b")
        conn.execute(
            "UPDATE quota_buckets SET learned_at = learned_at - %s", (buckets.FRESH_US + 1,)
        )
        learn(conn, BUCKET, PATH, 8.0, 30, "node-a")  # nobody repeated b's: a's counts now
        row = read_bucket(conn, BUCKET, PATH)
    assert row is not None and (row.interval_s, row.burst, row.learned_by) == (0.125, 30, "node-a")


def test_a_refill_read_exactly_beats_the_estimates_of_nodes_sharing_it(pg_dsn: str) -> None:
    with _conn(pg_dsn) as conn:
        # A node measuring its own calls sees its share: half the refill with two nodes.
        learn(conn, BUCKET, PATH, 2.5, 10, "node-b")
        learn(conn, BUCKET, PATH, 5.0, 10, "node-a", exact=True)
        learn(conn, BUCKET, PATH, 2.5, 10, "node-b")  # the estimate again: the exact one stays
        row = read_bucket(conn, BUCKET, PATH)
    assert row is not None and (row.interval_s, row.learned_by) == (0.2, "node-a")


def test_a_service_that_says_its_bucket_is_empty_empties_the_shared_one(pg_dsn: str) -> None:
    with _conn(pg_dsn) as conn:
        learn(conn, BUCKET, PATH, 5.0, 10, "node-a", exact=True)
        assert take(conn, BUCKET, PATH, 0.0).granted  # the shared bucket thinks 9 are left
        # The service says 0 remain and the next returns in 0.2 s (another client spent them).
        learn(conn, BUCKET, PATH, 5.0, 10, "node-a", exact=True, remaining=0, reset_s=0.2)
        refused = take(conn, BUCKET, PATH, 0.05)
        # Never filled by a fuller view: 9 remaining changes nothing now.
        learn(conn, BUCKET, PATH, 5.0, 10, "node-a", exact=True, remaining=9, reset_s=0.2)
        again = take(conn, BUCKET, PATH, 0.05)
    assert not refused.granted and 0.1 < refused.wait_s <= 0.2
    assert not again.granted


@pytest.mark.parametrize("bad", [0.0, -1.0, math.inf, math.nan])
def test_a_learned_rate_that_is_not_a_positive_number_is_refused(pg_dsn: str, bad: float) -> None:
    with _conn(pg_dsn) as conn, pytest.raises(ValueError, match="refill_per_s must be"):
        learn(conn, BUCKET, PATH, bad, 1, "node-a")


def test_nodes_starting_together_create_the_schema_once(pg_dsn: str) -> None:
    errors: list[BaseException] = []

    def create() -> None:
        try:
            with psycopg.connect(pg_dsn, autocommit=True) as conn:
                ensure_schema(conn)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=create) for _ in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert errors == []


def test_a_429_seen_by_one_node_holds_back_the_other(pg_dsn: str) -> None:
    async def scenario() -> None:
        a = SharedQuota.connect(pg_dsn, "node-a#1")
        b = SharedQuota.connect(pg_dsn, "node-b#1")
        try:
            gate = _gate()
            full = RateLimitInfo(limit=10, remaining=9, reset_s=0.01)  # 100/s, read exactly
            await _answer(gate, full)
            a.learned(BUCKET, PATH, gate, full, False)
            await a.settled()
            await b.turn(BUCKET, PATH, 1.0)  # the bucket is full: at once
            refused = RateLimitInfo(limit=10, remaining=0, reset_s=30.0)
            await _answer(gate, refused, throttled=True)  # a 429 asked node a to wait 30 s
            a.learned(BUCKET, PATH, gate, refused, True)
            await a.settled()
            with pytest.raises(OutOfTime) as out:
                await b.turn(BUCKET, PATH, 2.0)
            assert out.value.delay_s > 20
        finally:
            await a.aclose()
            await b.aclose()

    asyncio.run(scenario())
    with _conn(pg_dsn) as conn:
        row = read_bucket(conn, BUCKET, PATH)
    assert row is not None and row.throttled == 1 and row.granted == 1


def _settings(url: str, name: str) -> AccountSettings:
    creds = OAuthCredentials(DEMO.client_id, DEMO.client_secret)
    return AccountSettings(name=name, api_version="2.0", base_url=url, credentials=creds)


@pytest.mark.parametrize(
    ("mode", "answered"),
    [
        # The headers say the bucket is empty: node a waits without calling, and so does b.
        ("leaky", {"200": 1}),
        # Nothing says so until a 429 asks node a to wait a minute: b waits as well.
        ("retry-after", {"200": 1, "429": 1}),
    ],
)
def test_through_the_client_one_nodes_empty_bucket_defers_the_others_calls(
    pg_dsn: str, mode: str, answered: dict[str, int]
) -> None:
    """Two nodes (their own gates and pools) on one credential; the second never calls."""
    limits = {INFO: (1, 60.0)}  # one call, then one more a minute later
    config = SimulatorConfig(seed=5, messages=4, rate_limits=limits, rate_limit_mode=mode)
    with Simulator(config) as sim:
        ids = [m.id for m in sim.messages()]

        async def scenario() -> None:
            a_quota = SharedQuota.connect(pg_dsn, "node-a#1")
            b_quota = SharedQuota.connect(pg_dsn, "node-b#1")
            try:
                async with (
                    MimecastClient(_settings(sim.url, "a"), gates=GateRegistry(a_quota)) as a,
                    MimecastClient(_settings(sim.url, "b"), gates=GateRegistry(b_quota)) as b,
                ):
                    await a.get_message_info(ids[0])
                    with cycle_bound(time.monotonic() + 2.0), pytest.raises(QuotaDeferred):
                        await a.get_message_info(ids[1])  # the bucket is empty for a minute
                    await a_quota.settled()
                    before = sim.stats()["endpoints"]["info"]["total"]
                    with cycle_bound(time.monotonic() + 2.0), pytest.raises(QuotaDeferred):
                        await b.get_message_info(ids[2])
                    assert sim.stats()["endpoints"]["info"]["total"] == before
            finally:
                await asyncio.to_thread(a_quota.close)
                await asyncio.to_thread(b_quota.close)

        asyncio.run(scenario())
        info = sim.stats()["endpoints"]["info"]["by_status"]
    assert info == answered
    settings = _settings("http://127.0.0.1:9", "a")  # the fingerprint ignores the port
    with _conn(pg_dsn) as conn:
        stored = repr(conn.execute("SELECT * FROM quota_buckets").fetchall())
        stored += repr(conn.execute("SELECT * FROM quota_nodes").fetchall())
    assert quota_fingerprint(settings) in stored
    assert DEMO.client_id not in stored and DEMO.client_secret not in stored


def test_the_fingerprint_is_stable_and_never_depends_on_the_secret() -> None:
    base = _settings("http://127.0.0.1:9", "a")
    other_secret = replace(base, credentials=OAuthCredentials(DEMO.client_id, "another-secret"))
    other_client = replace(base, credentials=OAuthCredentials("other-id", DEMO.client_secret))
    fp = quota_fingerprint(base)
    assert fp == quota_fingerprint(replace(base, name="b")) == quota_fingerprint(other_secret)
    assert fp != quota_fingerprint(other_client)
    assert fp.startswith("credentials:") and len(fp) == len("credentials:") + 32
    assert quota_fingerprint(replace(base, quota_group="msp")) == "group:msp"


def test_an_unreachable_database_paces_the_node_alone_at_its_share(
    pg_server: Any, pg_dsn: str, caplog: pytest.LogCaptureFixture
) -> None:
    relay = CuttableRelay(pg_server.port)
    dsn = psycopg.conninfo.make_conninfo(pg_dsn, port=relay.port, connect_timeout=2)
    secret_dsn = psycopg.conninfo.make_conninfo(dsn, password="hunter2-not-logged")
    vt = FakeTime()
    caplog.set_level(logging.DEBUG)

    async def scenario() -> list[dict[str, Any]]:
        pool: ConnectionPool[Any] = ConnectionPool(
            secret_dsn, min_size=1, max_size=2, kwargs={"autocommit": True}, timeout=2, open=True
        )
        other = SharedQuota.connect(pg_dsn, "node-b#1")
        node = SharedQuota(pool, "node-a#1", clock=vt.clock, sleep=vt.sleep)
        try:
            await other.turn(BUCKET, PATH, math.inf)  # node b shares the bucket
            gate = _gate()
            full = RateLimitInfo(limit=5, remaining=4, reset_s=0.1)  # 10/s
            await _answer(gate, full)
            node.learned(BUCKET, PATH, gate, full, False)
            await node.settled()
            await node.turn(BUCKET, PATH, math.inf)
            assert node.reachable and node.nodes(BUCKET) == 2
            relay.cut()
            with structlog.testing.capture_logs() as logs:
                vt.sleeps.clear()
                for _ in range(4):
                    await node.turn(BUCKET, PATH, math.inf)
                with pytest.raises(OutOfTime):
                    await node.turn(BUCKET, PATH, 0.05)
            assert not node.reachable
            # One call at a time at 10/s shared by two nodes: 0.2 s apart.
            assert vt.sleeps == pytest.approx([0.2, 0.2, 0.2])
            assert node.alone_turns == 5
            return logs
        finally:
            await asyncio.to_thread(other.close)
            pool.close()

    logs = asyncio.run(scenario())
    warned = [e for e in logs if e["event"] == "cluster_quota_unreachable"]
    assert len(warned) == 1 and warned[0]["log_level"] == "warning"
    assert "hunter2" not in repr(logs) and "hunter2" not in caplog.text


def test_the_node_uses_the_bucket_again_once_the_database_answers(
    pg_server: Any, pg_dsn: str
) -> None:
    relay = CuttableRelay(pg_server.port)
    dsn = psycopg.conninfo.make_conninfo(pg_dsn, port=relay.port, connect_timeout=2)
    vt = FakeTime()

    async def scenario() -> list[dict[str, Any]]:
        pool: ConnectionPool[Any] = ConnectionPool(
            dsn,
            min_size=1,
            max_size=2,
            kwargs={"autocommit": True},
            timeout=2,
            check=ConnectionPool.check_connection,
            open=True,
        )
        node = SharedQuota(pool, "node-a#1", clock=vt.clock, sleep=vt.sleep)
        try:
            with structlog.testing.capture_logs() as logs:
                await node.turn(BUCKET, PATH, math.inf)
                assert node.reachable
                relay.cut()
                await node.turn(BUCKET, PATH, math.inf)  # the outage begins: alone
                assert not node.reachable
                relay.restore()
                await node.turn(BUCKET, PATH, math.inf)  # within the retry delay: alone
                assert not node.reachable
                # Alone, the database tried meanwhile; the pool may need a moment to
                # reconnect on a busy machine, so the retry is polled (bounded).
                for _ in range(40):
                    vt.now += 10
                    await node.turn(BUCKET, PATH, math.inf)
                    await node.settled()
                    if node.reachable:
                        break
                    await asyncio.sleep(0.25)
                assert node.reachable
                await node.turn(BUCKET, PATH, math.inf)  # in the bucket again
            return logs
        finally:
            pool.close()

    logs = asyncio.run(scenario())
    assert [e["event"] for e in logs] == ["cluster_quota_unreachable", "cluster_quota_reachable"]
    assert logs[1]["paced_alone"] >= 3  # one more per retry the database did not answer
    with _conn(pg_dsn) as conn:
        row = read_bucket(conn, BUCKET, PATH)
    assert row is not None and row.granted == 2  # the turns taken while it answered
    with _conn(pg_dsn) as conn:
        assert conn.execute("SELECT owner FROM quota_nodes").fetchall() == [("node-a#1",)]
