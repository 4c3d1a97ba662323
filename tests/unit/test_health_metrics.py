"""The health gauges read from a real state file: completed cycles, statuses, failures."""

from __future__ import annotations

from pathlib import Path

from prometheus_client import CollectorRegistry

from tagger.service.declare import Declare
from tagger.service.health import Health
from tagger.state import StateStore
from tests.support.state import at


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    found = registry.get_sample_value(name, labels)
    return None if found is None else float(found)


def test_the_gauges_follow_the_state(tmp_path: Path) -> None:
    registry = CollectorRegistry()
    health = Health(Declare(registry))
    with StateStore.open(tmp_path / "state.db") as store:
        ok = store.start_run("run", "corp", at(0), False)
        store.finish_run(ok, at(1), {}, "ok")
        refused = store.start_run("run", "corp", at(5), False)
        store.finish_run(refused, at(5), {}, "failed", "credentials refused")
        never = store.start_run("run", "new", at(5), False)
        store.finish_run(never, at(6), {}, "stopped", "key binding expired")
        store.record_failure("corp", "m1", "boom", at(2))
        store.record_failure("corp", "m2", "boom", at(2))
        store.set_aside("corp", "m3", at(3))
        store.set_aside("other", "m9", at(3))  # not a configured account: not shown
        health.observe_state(store, ["corp", "new"])

    # The last cycle that ran to its end, not the refused one after it.
    completed = "tagger_last_cycle_completed_timestamp_seconds"
    assert value(registry, completed, account="corp") == at(1).timestamp()
    assert value(registry, completed, account="new") is None  # never completed: no series
    status = "tagger_last_cycle_status"
    assert value(registry, status, account="corp", status="failed") == 1
    assert value(registry, status, account="corp", status="ok") == 0
    assert value(registry, status, account="new", status="stopped") == 1
    assert value(registry, "tagger_messages_failing", account="corp") == 2
    assert value(registry, "tagger_messages_set_aside", account="corp") == 1
    assert value(registry, "tagger_messages_failing", account="new") == 0
    assert value(registry, "tagger_messages_set_aside", account="other") is None

    health.started()
    health.observe_reload(ok=False)
    assert value(registry, "tagger_last_reload_rejected") == 1
    health.observe_reload(ok=True)
    assert value(registry, "tagger_last_reload_rejected") == 0
    assert value(registry, "tagger_reloads_total", result="rejected") == 1
    assert value(registry, "tagger_reloads_total", result="done") == 1
    health.observe_rule_files(ok=False)
    assert value(registry, "tagger_rule_files_invalid") == 1
