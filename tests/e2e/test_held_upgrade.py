"""Upgrading a state file with held windows, written by the previous release, to held pairs.

The release before held pairs (commit ``43c01a8``) held a rule's window while
it awaited promotion: its matches stayed unprocessed, the watermark stopped
at the oldest. The test runs that release's own code (``git archive`` of the
commit, in a child process) to write the state file, then this tagger:
the held messages are judged once more and become held pairs, nothing is
applied twice and nothing is lost (simulator ground truth).
"""

from __future__ import annotations

import contextlib
import sqlite3
from pathlib import Path

import pytest

from tagger.rules import load_rules
from tagger.simulator import Simulator, SimulatorConfig
from tagger.state import StateStore
from tagger.state.times import from_us
from testkit.previous import Unavailable, run_previous, unpack_previous
from tests.support.daemon import (
    applied_pairs,
    expected_pairs,
    repeated_applies,
    run_tagger,
    write_config,
)

ENFORCING = "spoofed-own-domain"


def previous_release(into: Path) -> Path:
    """Unpack the previous release under ``into``; skips (saying why) when it cannot."""
    try:
        return unpack_previous(into)
    except Unavailable as exc:
        pytest.skip(str(exc))


def test_held_windows_of_the_previous_release_become_held_pairs_nothing_twice_nothing_lost(
    tmp_path: Path,
) -> None:
    old = previous_release(tmp_path)
    state = tmp_path / "state.db"
    with Simulator(SimulatorConfig(seed=21, messages=150)) as sim:
        # The user's rule files are the same before and after the upgrade: the
        # previous release's own (later files use metadata it does not know).
        own = old / "rules"
        cfg = str(write_config(tmp_path, sim, rollout="audit-first", rules=[own / "*.yaml"]))
        # The previous release: one rule promoted (it applies), the others hold windows.
        assert run_previous(old, "promote", ENFORCING, "--yes", "-c", cfg).returncode == 0
        before = run_previous(old, "once", "-c", cfg)
        assert before.returncode == 3, before.stdout + before.stderr  # "windows held back"
        assert "windows held back" in before.stdout
        applied_before = applied_pairs(sim)
        assert applied_before  # the promoted rule applied
        # Read with SQLite itself: this tagger opens an old file read-only only once upgraded.
        with contextlib.closing(sqlite3.connect(state)) as conn:
            assert conn.execute("SELECT version FROM schema_version").fetchone() == (4,)
            marks_before = {
                (a, k): from_us(v)
                for a, k, v in conn.execute("SELECT account, query_key, value FROM watermarks")
            }
        sim.add_messages(30)

        now = run_tagger("once", "-c", cfg)
        assert now.returncode == 0, now.stdout + now.stderr
        with StateStore.open(state, lock=False, readonly=True) as store:
            assert store.schema_version() >= 5
            marks_after = dict(((a, k), m) for a, k, m in store.watermarks())
            held = {(r.message_id, r.tag_id) for r in store.held_rows()}
        # The windows moved on: nothing holds them any more.
        assert any(marks_after[k] > m for k, m in marks_before.items())
        # Each match of a rule awaiting promotion is a held pair, none of the promoted rule's.
        rules = load_rules([own])
        promoted_tags = {t for _, t in applied_before}
        waiting = {p for p in expected_pairs(sim, rules) if p[1] not in promoted_tags}
        assert held == waiting
        # Nothing applied twice: the promoted rule's new mail only.
        assert repeated_applies(sim) == {}
        assert applied_pairs(sim) == expected_pairs(sim, rules) - waiting

        # Promoting the others applies exactly what was held: nothing lost.
        for rule in rules.rules:
            if rule.mode == "enforce" and rule.id != ENFORCING:
                done = run_tagger("promote", rule.id, "--yes", "-c", cfg)
                assert done.returncode == 0, done.stderr
        assert run_tagger("once", "-c", cfg).returncode == 0
        assert applied_pairs(sim) == expected_pairs(sim, rules)
        assert repeated_applies(sim) == {}
