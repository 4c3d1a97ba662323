"""Two accounts with one quota against the simulator in process: paced together, fair shares."""

from __future__ import annotations

import asyncio
import time

import pytest

from tagger.mimecast.client import MimecastClient
from tagger.mimecast.sharedgate import GateRegistry
from tagger.simulator import Simulator, SimulatorConfig
from tagger.simulator.config import ENDPOINTS
from testkit.quota import queue_info_reads
from tests.support.client import run, settings_for, watch

__all__ = ["watch"]  # the fixture that fails a test on a leaked secret

BUCKET, WINDOW_S = 10, 2.0  # a bucket of 10, one call back every 200 ms (5/s)
BOUND_S = 5.0  # each account's calls may wait this long for a turn
CALLS = 120  # each account queues far more than the quota lets through in BOUND_S


@pytest.mark.parametrize("mode", ["2.0", "1.0"])
def test_two_accounts_with_the_same_credentials_share_the_quota_fairly(mode: str) -> None:
    limits = dict.fromkeys(ENDPOINTS, (BUCKET, WINDOW_S))
    with Simulator(SimulatorConfig(seed=11, messages=CALLS, rate_limits=limits)) as sim:
        ids = [m.id for m in sim.messages()]

        async def scenario() -> tuple[tuple[int, int], tuple[int, int], float]:
            gates = GateRegistry()
            one = settings_for(sim.url, mode, name="tenant-a", concurrency=8)
            two = settings_for(sim.url, mode, name="tenant-b", concurrency=8)
            async with (
                MimecastClient(one, gates=gates) as a,
                MimecastClient(two, gates=gates) as b,
            ):
                # As open_runtime does: each account lists its tags (and gets its token) first.
                await a.list_smart_tags()
                await b.list_smart_tags()
                started = time.monotonic()
                got_a, got_b = await asyncio.gather(
                    queue_info_reads(a, ids, BOUND_S), queue_info_reads(b, ids, BOUND_S)
                )
                assert a._requester.gate(a.endpoints.message_info) is b._requester.gate(
                    b.endpoints.message_info
                )
                return got_a, got_b, time.monotonic() - started

        (ok_a, deferred_a), (ok_b, deferred_b), elapsed = run(scenario())
        info = sim.stats()["endpoints"]["info"]["by_status"]
    accepted = int(info.get("200", 0))
    assert accepted == ok_a + ok_b
    # Both queued more than the quota allows: work is deferred, not failed.
    assert deferred_a + ok_a == CALLS and deferred_b + ok_b == CALLS
    assert deferred_a > 0 and deferred_b > 0
    # Paced together: within what the quota allowed, refused far less often than accepted
    # (the 429 share is a benchmark figure, bench/quota_group.py; on a busy machine the
    # client's and the server's clocks drift apart by a few calls).
    assert accepted <= BUCKET + (BUCKET / WINDOW_S) * elapsed + 2
    assert int(info.get("429", 0)) <= max(3, accepted // 4)
    # Fair: each account's accepted calls within 20 % of the other's.
    assert min(ok_a, ok_b) >= 0.8 * max(ok_a, ok_b), (ok_a, ok_b)


def test_accounts_with_other_credentials_keep_gates_of_their_own() -> None:
    gates = GateRegistry()
    url = "http://127.0.0.1:9"
    one = MimecastClient(settings_for(url, "2.0", name="a"), gates=gates)
    two = MimecastClient(settings_for(url, "1.0", name="b"), gates=gates)
    three = MimecastClient(settings_for(url, "2.0", name="c", quota_group="other"), gates=gates)
    path = one.endpoints.message_info
    found = {id(c._requester.gate(path)) for c in (one, two, three)}
    assert len(found) == 3
    for client in (one, two, three):
        run(client.aclose())
