"""Claims a dead node left in doubt: read back, never re-sent blindly, released by the operator.

A node ("ghost") took an account's lease, claimed two pairs and died: the
apply of the first reached Mimecast, that of the second did not. The next
node's cycle reads the tags back: the first pair is recorded applied without
a second call; the second stays in doubt (listed by `tagger claims`, its
message held back), until `tagger claims release` lets the next cycle apply
it, once.
"""

from __future__ import annotations

import json
from pathlib import Path

import psycopg
import pytest

from tagger import exitcodes
from tagger.cluster import leases
from tagger.cluster.schema import ensure_schema
from tagger.config import load_config
from tagger.simulator import Simulator, SimulatorConfig
from tagger.state.opener import open_state
from testkit.expected import applied_pairs, expected_pairs, repeated_applies
from testkit.processes import run_tagger
from testkit.setup import account_yaml, write_config

pytestmark = pytest.mark.slow


def test_in_doubt_claims_are_read_back_listed_and_released(tmp_path: Path, pg_dsn: str) -> None:
    with Simulator(SimulatorConfig(seed=81, messages=30)) as sim:
        config = write_config(
            tmp_path,
            sim,
            accounts=[account_yaml(sim, "acme")],
            state={"backend": "postgresql", "dsn": {"env": "TAGGER_DSN"}},
            cluster={"lease": "3s", "renew": "1s"},
        )
        env = {"TAGGER_DSN": pg_dsn, "TAGGER_NODE": "next"}
        landed, lost = sorted(expected_pairs(sim))[:2]
        with open_state(load_config(config, env={"TAGGER_DSN": pg_dsn})):
            pass  # the ledger, as the first node creates it
        with psycopg.connect(pg_dsn, autocommit=True) as conn:
            ensure_schema(conn)
            leases.ensure_accounts(conn, ["acme"])
            assert leases.take(conn, "acme", "ghost#1", 0.0) == 1  # taken, then it died
            for message_id, tag_id in (landed, lost):
                conn.execute(
                    "INSERT INTO claims VALUES ('acme', %s, %s, 'r', 'ghost#1', 1, 0)",
                    [message_id, tag_id],
                )
        sim._mailbox.apply(landed[0], landed[1], sim.now())  # the ghost's apply that landed

        done = run_tagger("once", "-c", str(config), env=env)
        # Incomplete: the message of the pair in doubt is held back (a transient failure).
        assert done.returncode == exitcodes.INCOMPLETE, done.stderr
        counts = sim.applied()
        assert counts[landed] == 1  # read back, recorded, not sent again
        assert lost not in counts  # in doubt: never re-sent blindly
        assert applied_pairs(sim) == expected_pairs(sim) - {lost}

        listed = run_tagger("claims", "--json", "-c", str(config), env=env)
        assert listed.returncode == 0, listed.stderr
        doubts = json.loads(listed.stdout)["in_doubt"]
        assert [(d["message_id"], d["tag_id"], d["node"]) for d in doubts] == [
            (lost[0], lost[1], "ghost")
        ]
        status = run_tagger("status", "-c", str(config), env=env)
        assert "account acme: 1 apply in doubt" in status.stdout, status.stdout
        assert "claimed by ghost" in status.stdout
        check = run_tagger("status", "--check", "-c", str(config), env=env)
        assert check.returncode == exitcodes.NAGIOS_WARNING, check.stdout
        assert "1 apply in doubt" in check.stdout
        as_json = json.loads(run_tagger("status", "--json", "-c", str(config), env=env).stdout)
        assert as_json["cluster"]["in_doubt"] == {"acme": 1}
        assert [r["account"] for r in as_json["cluster"]["leases"]] == ["acme"]

        refused = run_tagger("claims", "release", "-c", str(config), env=env)
        assert refused.returncode == 2 and "--all" in refused.stderr
        unconfirmed = run_tagger("claims", "release", "--all", "-c", str(config), env=env)
        assert unconfirmed.returncode == 1 and "--yes" in unconfirmed.stderr
        released = run_tagger("claims", "release", "--all", "--yes", "-c", str(config), env=env)
        assert released.returncode == 0 and "released 1 claim" in released.stdout

        again = run_tagger("once", "-c", str(config), env=env)
        assert again.returncode == 0, again.stderr
        assert applied_pairs(sim) == expected_pairs(sim)
        assert not repeated_applies(sim)
        after = run_tagger("claims", "-c", str(config), env=env)
        assert "no apply is in doubt" in after.stdout


def test_claims_on_a_sqlite_ledger_says_there_are_none_to_have(tmp_path: Path) -> None:
    with Simulator(SimulatorConfig(seed=82, messages=5)) as sim:
        config = write_config(tmp_path, sim)
        done = run_tagger("claims", "-c", str(config))
    assert done.returncode == exitcodes.USER_ERROR
    assert "only with a PostgreSQL ledger" in done.stderr
