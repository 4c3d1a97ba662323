"""``tagger once`` on a PostgreSQL ledger: the expected tags, once each, and status reads them.

A real simulator on 127.0.0.1, real ``tagger`` processes and a real
PostgreSQL server (a fresh database); the DSN comes from ``TAGGER_DSN`` and
carries a password that must show nowhere. Until the cluster's leases land,
``once`` on PostgreSQL runs without them.
"""

from __future__ import annotations

import json
from pathlib import Path

import psycopg

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
from tests.support.state import damage_schema_text

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

        # Before any run the database holds no ledger: said, not an error.
        fresh = run_tagger("status", "-c", cfg, env=env)
        assert fresh.returncode == exitcodes.OK, fresh.stderr
        assert f"no state yet at state database {where}" in fresh.stdout
        listed = run_tagger("rules", "-c", cfg, env=env)
        assert listed.returncode == exitcodes.OK, listed.stderr

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
        for done in (fresh, listed, dry, first, again, status, as_json):
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


def test_a_node_moving_from_sqlite_imports_its_file_and_carries_on_without_rereading(
    tmp_path: Path, pg_dsn: str
) -> None:
    env = {"TAGGER_DSN": pg_dsn}
    with Simulator(SimulatorConfig(seed=75, messages=60)) as sim:
        expected = expected_pairs(sim)
        sqlite_cfg = str(write_config(tmp_path, sim))
        first = run_tagger("once", "-c", sqlite_cfg)
        assert first.returncode == exitcodes.OK, first.stderr
        assert applied_pairs(sim) == expected

        refused = run_tagger("import-state", "-c", sqlite_cfg)
        assert refused.returncode == exitcodes.USER_ERROR
        assert "this config's state is the SQLite file" in refused.stderr

        cfg = str(
            write_config(
                tmp_path, sim, state={"backend": "postgresql", "dsn": {"env": "TAGGER_DSN"}}
            )
        )
        moved = run_tagger("import-state", "-c", cfg, env=env)
        assert moved.returncode == exitcodes.OK, moved.stderr
        assert f"applied: {len(expected)} rows" in moved.stdout
        again = run_tagger("import-state", "-c", cfg, env=env)
        assert again.returncode == exitcodes.FAILURE
        assert "only fills an empty ledger" in again.stderr

        carried = run_tagger("once", "-c", cfg, env=env)
        assert carried.returncode == exitcodes.OK, carried.stderr
        assert repeated_applies(sim) == {}
        data = json.loads(run_tagger("status", "--json", "-c", cfg, env=env).stdout)
        last = data["last_runs"][0]["counts"]
        # The ledger knew every apply: nothing re-read, nothing applied.
        assert last.get("applied", 0) == 0 and last.get("info_calls", 0) == 0, last
        assert sum(row["applied"] for row in data["tags_per_rule"]) == len(expected)


def test_a_node_moving_from_sqlite_without_importing_reads_tags_before_applying(
    tmp_path: Path, pg_dsn: str
) -> None:
    env = {"TAGGER_DSN": pg_dsn}
    with Simulator(SimulatorConfig(seed=75, messages=60)) as sim:
        expected = expected_pairs(sim)
        first = run_tagger("once", "-c", str(write_config(tmp_path, sim)))
        assert first.returncode == exitcodes.OK, first.stderr
        cfg = str(
            write_config(
                tmp_path, sim, state={"backend": "postgresql", "dsn": {"env": "TAGGER_DSN"}}
            )
        )
        moved = run_tagger("once", "-c", cfg, env=env)
        assert moved.returncode == exitcodes.OK, moved.stderr
        assert "state_ledger_follows_a_file" in moved.stderr
        assert repeated_applies(sim) == {} and applied_pairs(sim) == expected
        data = json.loads(run_tagger("status", "--json", "-c", cfg, env=env).stdout)
        last = data["last_runs"][0]["counts"]
        # An empty ledger after a file: every planned apply was checked against the message.
        assert last["info_calls"] > 0 and last.get("applied", 0) == 0, last


def test_a_damaged_file_is_refused_by_import_state_and_nothing_is_copied(
    tmp_path: Path, pg_dsn: str
) -> None:
    env = {"TAGGER_DSN": pg_dsn}
    with Simulator(SimulatorConfig(seed=77, messages=30)) as sim:
        first = run_tagger("once", "-c", str(write_config(tmp_path, sim)))
        assert first.returncode == exitcodes.OK, first.stderr
        damage_schema_text(tmp_path / "state.db")
        cfg = str(
            write_config(
                tmp_path, sim, state={"backend": "postgresql", "dsn": {"env": "TAGGER_DSN"}}
            )
        )
        refused = run_tagger("import-state", "-c", cfg, env=env)
    assert refused.returncode == exitcodes.FAILURE, refused.stdout
    assert "Traceback" not in refused.stderr
    assert str(tmp_path / "state.db") in refused.stderr and "damaged" in refused.stderr
    with psycopg.connect(pg_dsn) as conn:
        assert conn.execute("SELECT count(*) FROM applied").fetchall() == [(0,)]
