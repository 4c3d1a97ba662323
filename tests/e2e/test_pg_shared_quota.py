"""``tagger once`` on a PostgreSQL ledger takes its calls' turns from the shared quota.

A real simulator limiting get-message-info (with Mimecast's rate-limit
headers), real ``tagger`` processes and a real PostgreSQL server: after two
runs on one credential the database holds the endpoint's bucket, keyed by
the credential's fingerprint (never the client id or secret), every
expected tag is applied once, and the DSN's password shows nowhere.
"""

from __future__ import annotations

from pathlib import Path

import psycopg

from tagger import exitcodes
from tagger.simulator import Simulator, SimulatorConfig
from tagger.simulator.config import INFO
from tagger.simulator.credentials import DEMO
from tests.support.daemon import (
    applied_pairs,
    expected_pairs,
    repeated_applies,
    run_tagger,
    write_config,
)

PASSWORD = "s3cret-quota-7c1d"
INFO_PATH = "/api/message-finder/get-message-info"


def test_once_on_postgresql_paces_at_the_shared_bucket(tmp_path: Path, pg_dsn: str) -> None:
    dsn = pg_dsn.replace("tagger_test@", f"tagger_test:{PASSWORD}@")
    env = {"TAGGER_DSN": dsn}
    limits = {INFO: (10, 1.0)}  # a bucket of 10, one back every 0.1 s
    with Simulator(SimulatorConfig(seed=73, messages=40, rate_limits=limits)) as sim:
        cfg = str(
            write_config(
                tmp_path, sim, state={"backend": "postgresql", "dsn": {"env": "TAGGER_DSN"}}
            )
        )
        expected = expected_pairs(sim)
        first = run_tagger("once", "-c", cfg, env=env)
        assert first.returncode == exitcodes.OK, first.stderr
        again = run_tagger("once", "-c", cfg, env=env)
        assert again.returncode == exitcodes.OK, again.stderr
        assert applied_pairs(sim) == expected and repeated_applies(sim) == {}
        sent = int(sim.stats()["endpoints"]["info"]["total"])
        for done in (first, again):
            assert PASSWORD not in done.stdout + done.stderr
    with psycopg.connect(pg_dsn, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT credential, interval_us, burst, granted FROM quota_buckets WHERE endpoint = %s",
            (INFO_PATH,),
        ).fetchall()
        stored = repr(conn.execute("SELECT * FROM quota_buckets").fetchall())
        stored += repr(conn.execute("SELECT * FROM quota_nodes").fetchall())
    assert len(rows) == 1, rows
    credential, interval_us, burst, granted = rows[0]
    assert credential.startswith("credentials:")
    assert (round(interval_us), burst) == (100_000, 10)  # the refill the headers gave
    assert sent > 0 and granted >= sent  # every info read sent took its turn there
    assert DEMO.client_id not in stored and DEMO.client_secret not in stored
