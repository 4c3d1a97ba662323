"""Scoped searches from tagger processes against strict and lenient simulators."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tagger.simulator import Simulator, SimulatorConfig
from tagger.state import StateStore
from tests.support.daemon import (
    applied_pairs,
    expected_pairs,
    run_tagger,
    write_config,
)
from tests.support.search import DOMAINS, query_count, scoped_account


def _events(stderr: str, name: str) -> list[dict[str, Any]]:
    out = []
    for line in stderr.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("event") == name:
            out.append(record)
    return out


@pytest.mark.parametrize("mode", ["auto", "domains"])
def test_strict_service_with_domains_gets_exactly_the_expected_tags(
    tmp_path: Path, mode: str
) -> None:
    with Simulator(SimulatorConfig(seed=23, messages=300, strict_search=True)) as sim:
        accounts = scoped_account(sim, domains=DOMAINS, search_scope=mode)
        cfg = str(write_config(tmp_path, sim, accounts=accounts))
        done = run_tagger("once", "-c", cfg)
        assert done.returncode == 0, done.stderr
        expected = expected_pairs(sim)
        assert expected, "the mailbox should give the rules something to tag"
        got = applied_pairs(sim)
        assert len(expected - got) == 0, "missing tags"
        assert len(got - expected) == 0, "extra tags"
        refused = _events(done.stderr, "search_bare_window_refused")
        assert len(refused) == (1 if mode == "auto" else 0)
        with StateStore.open(tmp_path / "state.db", lock=False, readonly=True) as store:
            assert len(store.watermarks()) == query_count()


def test_strict_service_without_domains_fails_clearly_and_moves_nothing(tmp_path: Path) -> None:
    with Simulator(SimulatorConfig(seed=23, messages=150, strict_search=True)) as sim:
        cfg = str(write_config(tmp_path, sim))
        done = run_tagger("once", "-c", cfg)
        assert done.returncode == 1, done.stderr  # the operator must act
        assert "set domains: on account 'demo'" in done.stderr
        assert "err_validation_blank" in done.stderr
        assert applied_pairs(sim) == set()
        # No retry storm: the day is worked through in slices, oldest first, and the
        # first slice whose search fails ends the cycle (each query searched at most once).
        assert 1 <= sim.stats()["endpoints"]["search"]["total"] <= query_count()
        with StateStore.open(tmp_path / "state.db", lock=False, readonly=True) as store:
            assert store.watermarks() == []


def test_a_lenient_service_is_searched_by_time_window_alone(tmp_path: Path) -> None:
    # Two identical mailboxes, one account with domains and one without: auto
    # mode makes exactly the searches of an account that has none to scope by.
    searches = []
    for index, extra in enumerate(({}, {"domains": DOMAINS})):
        with Simulator(SimulatorConfig(seed=23, messages=300)) as sim:
            where = tmp_path / str(index)
            where.mkdir()
            cfg = str(write_config(where, sim, accounts=scoped_account(sim, **extra)))
            done = run_tagger("once", "-c", cfg)
            assert done.returncode == 0, done.stderr
            assert _events(done.stderr, "search_bare_window_refused") == []
            assert applied_pairs(sim) == expected_pairs(sim)
            searches.append(sim.stats()["endpoints"]["search"]["total"])
    assert searches[0] == searches[1]
    assert searches[0] >= query_count()
