"""Two `tagger run` nodes on one PostgreSQL ledger: shared out, taken over, never twice.

Three accounts, each on its own simulator; the nodes share them by leases,
tag every expected pair exactly once, and when one node is killed (SIGKILL)
the other takes its accounts over and tags the mail that arrives after.

What is checked is what the cluster promises: no expected pair missing and
none applied twice. (Which rules a message's tags come from is the engine's
and is checked by the single-node tests; with mail arriving while two queries
search it, a message can be judged by one query a cycle before the other.)
"""

from __future__ import annotations

import signal
from pathlib import Path

import psycopg
import pytest

from tagger.simulator import Simulator, SimulatorConfig
from testkit.expected import applied_pairs, expected_pairs, repeated_applies
from testkit.processes import Running, wait_until
from testkit.setup import account_yaml, write_config

pytestmark = pytest.mark.slow

NAMES = ("north", "south", "west")


def _owners(dsn: str) -> dict[str, str | None]:
    with psycopg.connect(dsn) as conn:
        rows = conn.execute(
            "SELECT account, CASE WHEN expires_at > (extract(epoch from clock_timestamp())"
            " * 1000000)::bigint THEN owner END FROM leases"
        ).fetchall()
    return {str(a): (None if o is None else str(o).split("#")[0]) for a, o in rows}


def test_two_nodes_share_accounts_and_one_takes_over_when_the_other_is_killed(
    tmp_path: Path, pg_dsn: str
) -> None:
    sims = [Simulator(SimulatorConfig(seed=70 + i, messages=40)) for i in range(len(NAMES))]
    for sim in sims:
        sim.start()
    nodes: dict[str, Running] = {}
    try:
        config = write_config(
            tmp_path,
            sims[0],
            accounts=[account_yaml(sim, name) for sim, name in zip(sims, NAMES, strict=True)],
            state={"backend": "postgresql", "dsn": {"env": "TAGGER_DSN"}},
            cluster={"lease": "3s", "renew": "1s"},
        )
        for node in ("a", "b"):
            env = {"TAGGER_DSN": pg_dsn, "TAGGER_NODE": node}
            nodes[node] = Running("run", "-c", str(config), env=env)
            nodes[node].wait_event("cluster_joined", timeout=30)
        wait_until(
            lambda: all(expected_pairs(s) <= applied_pairs(s) for s in sims),
            60,
            "every account's mail tagged",
        )
        assert all(expected_pairs(s) for s in sims)
        wait_until(
            lambda: set(_owners(pg_dsn).values()) == {"a", "b"}, 30, "both nodes hold accounts"
        )
        assert all(not repeated_applies(s) for s in sims)

        owners = _owners(pg_dsn)
        victim = "a"
        orphaned = {acct for acct, node in owners.items() if node == victim}
        nodes[victim].signal(signal.SIGKILL)
        nodes[victim].wait(timeout=10)
        for sim in sims:
            sim.add_messages(20)
        wait_until(
            lambda: all(node == "b" for node in _owners(pg_dsn).values()),
            30,
            "the surviving node takes every account over",
        )
        taken = {e["account"] for e in nodes["b"].named("lease_taken")}
        assert orphaned <= taken
        wait_until(
            lambda: all(expected_pairs(s) <= applied_pairs(s) for s in sims),
            60,
            "the new mail tagged by the surviving node",
        )
        assert all(not repeated_applies(s) for s in sims), [repeated_applies(s) for s in sims]
        assert nodes["b"].stop() == 0
    finally:
        for running in nodes.values():
            if running.proc.poll() is None:
                running.signal(signal.SIGKILL)
        for sim in sims:
            sim.stop()
