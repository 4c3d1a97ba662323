"""``tagger once`` on a PostgreSQL ledger: the expected tags, once each, and status reads them.

A real simulator on 127.0.0.1, real ``tagger`` processes and a real
PostgreSQL server (a fresh database); the DSN comes from ``TAGGER_DSN`` and
carries a password that must show nowhere. Until the cluster's leases land,
``once`` on PostgreSQL runs without them.
"""

from __future__ import annotations

import json
from pathlib import Path

from tagger import exitcodes
from tagger.simulator import Simulator, SimulatorConfig
from tests.support.daemon import (
    Running,
    applied_pairs,
    expected_pairs,
    repeated_applies,
    run_tagger,
    write_config,
)

PASSWORD = "s3cret-e2e-51b7"


def test_once_on_postgresql_tags_what_is_expected_and_status_shows_it(
    tmp_path: Path, pg_dsn: str
) -> None:
    # The test server trusts every local connection: the password is carried, never checked.
    dsn = pg_dsn.replace("tagger_test@", f"tagger_test:{PASSWORD}@")
    where = dsn.split("@", 1)[1]
    env = {"TAGGER_DSN": dsn}
    with Simulator(SimulatorConfig(seed=71, messages=80)) as sim:
        cfg = str(
            write_config(
                tmp_path, sim, state={"backend": "postgresql", "dsn": {"env": "TAGGER_DSN"}}
            )
        )
        expected = expected_pairs(sim)
        assert expected

        dry = run_tagger("once", "--dry-run", "-c", cfg, env=env)
        assert dry.returncode == exitcodes.OK, dry.stderr
        assert applied_pairs(sim) == set()

        first = run_tagger("once", "-c", cfg, env=env)
        assert first.returncode == exitcodes.OK, first.stderr
        assert applied_pairs(sim) == expected
        again = run_tagger("once", "-c", cfg, env=env)
        assert again.returncode == exitcodes.OK, again.stderr
        assert repeated_applies(sim) == {}

        status = run_tagger("status", "-c", cfg, env=env)
        assert status.returncode == exitcodes.OK, status.stderr
        assert f"state: postgresql {where}" in status.stdout
        assert "account demo: last once" in status.stdout
        as_json = run_tagger("status", "--json", "-c", cfg, env=env)
        data = json.loads(as_json.stdout)
        assert data["backend"] == "postgresql" and data["database"] == where
        # Each expected pair is recorded once in the ledger status reads.
        assert sum(row["applied"] for row in data["tags_per_rule"]) == len(expected)
        assert [r["status"] for r in data["last_runs"]] == ["ok"]
        for done in (dry, first, again, status, as_json):
            assert PASSWORD not in done.stdout + done.stderr
    # The ledger is in PostgreSQL, not in a file.
    assert not (tmp_path / "state.db").exists()


def test_pause_all_on_postgresql_is_confirmed_by_the_running_daemon_and_claims_nothing_without(
    tmp_path: Path, pg_dsn: str
) -> None:
    env = {"TAGGER_DSN": pg_dsn}
    with Simulator(SimulatorConfig(seed=73, messages=20)) as sim:
        cfg = str(
            write_config(
                tmp_path, sim, state={"backend": "postgresql", "dsn": {"env": "TAGGER_DSN"}}
            )
        )
        daemon = Running("run", "-c", cfg, env=env)
        try:
            daemon.wait_event("cycle_finished", 1, timeout=60)
            done = run_tagger("pause", "--all", "-c", cfg, env=env)
            assert done.returncode == exitcodes.OK, done.stderr
            assert "confirmed it in" in done.stdout
        finally:
            daemon.stop()
        # No daemon now, and no file lock to say so: nothing is claimed.
        alone = run_tagger("pause", "--all", "--wait", "0.5", "-c", cfg, env=env)
        assert alone.returncode == exitcodes.FAILURE, alone.stdout
        assert "no file lock tells whether one runs" in alone.stderr
        assert "The switch is stored" in alone.stderr
