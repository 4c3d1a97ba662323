"""The daemon's quota note: each cycle's figures, written beside the state and read by status."""

from __future__ import annotations

import stat
from datetime import UTC, datetime, timedelta
from pathlib import Path

from prometheus_client import generate_latest

from tagger.cli.status import quota_json, quota_lines
from tagger.mimecast.stats import EndpointQuota
from tagger.monitor.quotanote import quota_note, quota_path, read_quota, write_quota
from tagger.monitor.snapshot import Snapshot
from tagger.service.metrics import Metrics

AT = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
INFO = "/api/message-finder/get-message-info"
APPLY = "/api/data-retention/apply-smart-tag"


def test_a_cycle_s_figures_are_the_growth_of_the_totals_over_its_duration() -> None:
    first = quota_note(
        AT, 10.0, {"acme": [EndpointQuota(INFO, 50, 3, 5.0), EndpointQuota(APPLY, 20, 0, None)]}, {}
    )
    second = quota_note(
        AT + timedelta(minutes=1),
        20.0,
        {"acme": [EndpointQuota(INFO, 150, 4, 4.9), EndpointQuota(APPLY, 20, 0, None)]},
        first.totals(),
    )
    info, apply = second.endpoints
    assert (info.endpoint, info.accepted_per_s, info.throttled) == (INFO, 5.0, 1)
    assert info.refill_per_s == 4.9 and (info.answered_total, info.throttled_total) == (150, 4)
    assert (apply.accepted_per_s, apply.throttled, apply.refill_per_s) == (0.0, 0, None)
    assert first.endpoints[0].accepted_per_s == 5.0 and first.endpoints[0].throttled == 3


def test_the_note_round_trips_privately_and_a_damaged_one_reads_as_none(tmp_path: Path) -> None:
    state = tmp_path / "state.db"
    note = quota_note(AT, 10.0, {"acme": [EndpointQuota(INFO, 50, 3, 5.0)]}, {})
    write_quota(state, note)
    assert stat.S_IMODE(quota_path(state).stat().st_mode) == 0o600
    assert read_quota(state) == note
    for damaged in ("{", '{"at": "yesterday", "cycle_s": 1, "endpoints": []}', '{"at": 1}', "[]"):
        quota_path(state).write_text(damaged, encoding="utf-8")
        assert read_quota(state) is None
    quota_path(state).unlink()
    assert read_quota(state) is None


def _snapshot(tmp_path: Path) -> Snapshot:
    note = quota_note(
        AT,
        12.0,
        {"acme": [EndpointQuota(INFO, 60, 2, 5.0)], "other": [EndpointQuota(APPLY, 6, 0, None)]},
        {},
    )
    return Snapshot(
        now=AT + timedelta(minutes=2),
        state_path=tmp_path / "state.db",
        state_exists=True,
        interval=timedelta(minutes=5),
        ingestion_delay=timedelta(0),
        longest_schedule=timedelta(0),
        accounts=("acme", "other"),
        quota=note,
    )


def test_status_shows_each_account_s_endpoints_in_text_and_json(tmp_path: Path) -> None:
    snap = _snapshot(tmp_path)
    (line,) = quota_lines(snap, "acme")
    assert line.startswith(f"quota acme {INFO}: 5.00 calls/s accepted, 2 answered 429")
    assert "refill 5.00/s" in line and "last cycle, 12 s" in line
    assert "refill not known" in quota_lines(snap, "other")[0]
    (entry,) = quota_json(snap, "acme")
    assert entry["endpoint"] == INFO and entry["accepted_per_s"] == 5.0
    assert entry["throttled"] == 2 and entry["refill_per_s"] == 5.0
    assert quota_lines(Snapshot(**{**snap.__dict__, "quota": None}), "acme") == []


def test_the_metrics_carry_each_endpoint_s_accepted_rate_and_refill(tmp_path: Path) -> None:
    metrics = Metrics()
    metrics.observe_quota(_snapshot(tmp_path).quota)  # type: ignore[arg-type]
    text = generate_latest(metrics.registry).decode()
    assert f'tagger_quota_accepted_per_second{{account="acme",endpoint="{INFO}"}} 5.0' in text
    assert f'tagger_quota_refill_per_second{{account="acme",endpoint="{INFO}"}} 5.0' in text
    # An endpoint whose refill is not known has no refill figure (not a 0).
    assert f'tagger_quota_refill_per_second{{account="other",endpoint="{APPLY}"}}' not in text
