"""The chaos harness, small: three real nodes, a SIGKILL and a SIGSTOP past the lease.

``python -m bench.chaos`` runs 50 trials and prints the figures (failover
times included); this runs two, on the session's PostgreSQL server, and
asserts only the invariants: no (message, tag) applied twice, none missing
(every expected pair applied or listed in doubt), read-back leaving no
tagged pair in doubt, and the stopped node dropping its account.
"""

from __future__ import annotations

import pytest

from bench import chaos

pytestmark = pytest.mark.slow


def test_a_kill_and_a_stop_lose_nothing_and_tag_nothing_twice(pg_dsn: str) -> None:
    figures = chaos.run(
        2,
        nodes=3,
        accounts=4,
        seed=3,
        messages=20,
        per_trial=8,
        lease_s=4.0,
        renew_s=1.0,
        interval_s=1.0,
        latency_ms=30.0,
        settle_s=60.0,
        faults=("kill", "stop"),
        dsn=pg_dsn,
    )
    kill, stop = figures.trials
    assert (kill.fault, stop.fault) == ("kill", "stop")
    assert stop.duplicates == 0, stop.notes  # cumulative: covers both trials
    assert kill.missing == 0 and stop.missing == 0, (kill.notes, stop.notes)
    assert kill.tagged_in_doubt == 0 and stop.tagged_in_doubt == 0
    assert stop.lease_lost_logged, stop.notes
    assert figures.applied > 0  # the nodes did tag
