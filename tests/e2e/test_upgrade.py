"""An upgrade from the previous release keeps enforcing rules enforcing.

The state file of tests/fixtures/upgrade/prev-state.sql was written by the
previous release (commit 43c01a8, "tagger 0.1.0") with
tests/fixtures/upgrade/make_prev_state.py: one rule applied tags under
``rollout: enforce`` before audit-first was turned on, one was promoted under
audit-first, one is new and was never promoted. This release opens that file
(upgrading its schema) under ``rollout: audit-first`` with the same rules:
the first two apply their tags to new mail, the third still only audits.
"""

from __future__ import annotations

import contextlib
import json
import sqlite3
from pathlib import Path

from tagger import __version__
from tagger.simulator import Simulator, SimulatorConfig
from tagger.state.schema import MIGRATIONS
from tests.support.daemon import run_tagger, write_config

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "upgrade"
TAGS = {
    "enforced-before-audit-first": "Review/Needs triage",
    "promoted": "Bulk/Newsletters",
    "awaiting": "Compliance/Litigation hold",
}


def _restore(path: Path) -> None:
    """Build the previous release's state file at ``path`` from its SQL text."""
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.executescript((FIXTURE / "prev-state.sql").read_text(encoding="utf-8"))


def test_the_fixture_was_written_by_the_previous_release() -> None:
    manifest = json.loads((FIXTURE / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["commit"].startswith("43c01a8")
    assert manifest["written_by"] != f"tagger {__version__}"
    text = (FIXTURE / "prev-state.sql").read_text(encoding="utf-8")
    assert 'INSERT INTO "schema_version" VALUES(4);' in text


def test_rules_enforcing_before_the_upgrade_stay_enforcing(tmp_path: Path) -> None:
    manifest = json.loads((FIXTURE / "manifest.json").read_text(encoding="utf-8"))
    state = tmp_path / "state.db"
    _restore(state)
    with Simulator(SimulatorConfig(seed=43)) as sim:
        cfg = str(
            write_config(tmp_path, sim, rules=[FIXTURE / "rules.yaml"], rollout="audit-first")
        )
        sim.add_messages(60)  # mail that arrived since: every rule matches some of it
        done = run_tagger("once", "-c", cfg)
        assert done.returncode == 0, done.stderr[-3000:]
        lines = {
            rule: line
            for rule in TAGS
            for line in done.stdout.splitlines()
            if line.strip().startswith(f"rule {rule}")
        }
        for rule in manifest["enforcing_after_upgrade"]:
            assert "awaiting promotion" not in lines[rule], done.stdout
        for rule in manifest["awaiting_after_upgrade"]:
            assert "awaiting promotion" in lines[rule], done.stdout

        paths = {t["id"]: t["path"] for t in sim.smart_tags()}
        applied = {paths[tag] for _message, tag in sim.applied()}
        assert applied == {TAGS[r] for r in manifest["enforcing_after_upgrade"]}

        status = run_tagger("status", "--json", "-c", cfg)
        assert status.returncode == 0, status.stderr
        assert json.loads(status.stdout)["awaiting_promotion"] == manifest["awaiting_after_upgrade"]
    with contextlib.closing(sqlite3.connect(state)) as conn:
        (version,) = conn.execute("SELECT version FROM schema_version").fetchone()
    assert version == MIGRATIONS[-1].version
