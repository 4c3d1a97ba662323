"""Schema versions: upgrades run in order, a newer file is refused."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

import pytest

from tagger.state import StateError, StateStore
from tagger.state.schema import MIGRATIONS, Migration
from tests.support.state import T0

CURRENT = MIGRATIONS[-1].version
NEXT = Migration(
    version=CURRENT + 1,
    name="note column on applied pairs",
    statements=(
        "ALTER TABLE applied ADD COLUMN note TEXT NOT NULL DEFAULT 'migrated'",
        "CREATE TABLE extra (k TEXT PRIMARY KEY, v TEXT)",
    ),
)


def version_of(path: Path) -> int:
    conn = sqlite3.connect(path)
    try:
        return int(conn.execute("SELECT version FROM schema_version").fetchone()[0])
    finally:
        conn.close()


def test_next_migration_upgrades_a_copy_of_a_current_file(tmp_path: Path) -> None:
    original = tmp_path / "current.db"
    with StateStore.open(original) as s:
        s.record_applied("a", "m1", "t1", rule_id="r", rule_hash="h", mode="live", at=T0)
    copy = tmp_path / "copy.db"
    shutil.copyfile(original, copy)

    with StateStore.open(copy, migrations=(*MIGRATIONS, NEXT)) as s:
        assert s.schema_version() == CURRENT + 1
        assert s.applied_pairs("a", ["m1"]) == {("m1", "t1")}  # data kept
    conn = sqlite3.connect(copy)
    assert conn.execute("SELECT note FROM applied").fetchall() == [("migrated",)]
    conn.close()
    assert version_of(original) == CURRENT  # the original is untouched

    # The current tagger refuses the upgraded file, clearly.
    match = rf"schema version {CURRENT + 1}.*only knows versions up to {CURRENT}"
    with pytest.raises(StateError, match=match):
        StateStore.open(copy)
    with pytest.raises(StateError, match="newer tagger"):
        StateStore.open(copy, readonly=True)


def test_reopening_does_not_rerun_migrations(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    StateStore.open(path, migrations=(*MIGRATIONS, NEXT)).close()
    # Running NEXT's ALTER twice would fail; a second open must skip it.
    with StateStore.open(path, migrations=(*MIGRATIONS, NEXT)) as s:
        assert s.schema_version() == CURRENT + 1


def test_failed_migration_leaves_the_previous_version(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    StateStore.open(path).close()
    broken = Migration(CURRENT + 1, "broken", ("CREATE TABLE fine (x)", "ALTER TABLE nope ADD y"))
    with pytest.raises(StateError, match=rf"could not upgrade .* to schema version {CURRENT + 1}"):
        StateStore.open(path, migrations=(*MIGRATIONS, broken))
    assert version_of(path) == CURRENT
    conn = sqlite3.connect(path)
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    conn.close()
    assert "fine" not in tables  # the partial step was rolled back


def test_readonly_refuses_an_older_file(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    StateStore.open(path).close()
    with pytest.raises(StateError, match="start the daemon"):
        StateStore.open(path, readonly=True, migrations=(*MIGRATIONS, NEXT))


def test_foreign_database_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "other.db"
    conn = sqlite3.connect(path)
    conn.execute("CREATE TABLE customers (id INTEGER)")
    conn.commit()
    conn.close()
    with pytest.raises(StateError, match="not a tagger state file"):
        StateStore.open(path)
