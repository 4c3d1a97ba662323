"""The quota's backlog, seen by `tagger status` and the metrics, from a real state file.

Cycles are written through the store API with the counts a cycle report
leaves (``run_counts``); the snapshot is read back the way ``status`` reads it.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from tagger import exitcodes
from tagger.cli.main import main
from tagger.cli.status import as_json, text_lines
from tagger.config import Config
from tagger.engine.tally import CycleReport, run_counts
from tagger.monitor.checks import Thresholds, findings, verdict
from tagger.monitor.snapshot import take_snapshot
from tagger.service.metrics import Metrics
from tagger.state import StateStore
from tests.support.config import ENV, MINIMAL, load

NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)
QUERY = "route=inbound"
NO_DAEMON = Thresholds(expect_daemon=False)


RULES = """\
rules:
  - id: big-attachments
    description: Invoices from outside.
    search: {route: [inbound]}
    match: {field: subject, contains: invoice}
    tags: [Finance/Invoices]
"""


def config(tmp_path: Path, extra: str = "") -> Config:
    """Load a config whose state file is in ``tmp_path``, with one rule that loads."""
    text = MINIMAL + f"state_path: {tmp_path / 'state.db'}\nrollout: enforce\n" + extra
    cfg = load(tmp_path, text)
    (tmp_path / "rules" / "one.yaml").write_text(RULES, encoding="utf-8")
    return cfg


def cycle(store: StateStore, started: datetime, deferred: int, status: str = "ok") -> None:
    """Record one live daemon cycle of 'main' that deferred ``deferred`` messages."""
    report = CycleReport("main", False, started, started + timedelta(seconds=50))
    report.quota_deferred = deferred
    if deferred:
        report.note_deferred(started - timedelta(minutes=30))
    run_id = store.start_run("run", "main", started, False)
    store.finish_run(run_id, started + timedelta(seconds=50), run_counts(report), status)
    # The deferred messages hold the watermark at the oldest of them.
    mark = report.oldest_deferred or started - timedelta(minutes=2)
    store.set_watermark("main", QUERY, mark, started)


def write(tmp_path: Path, backlog: list[int], every: timedelta = timedelta(minutes=5)) -> None:
    """Write cycles deferring ``backlog[i]`` messages, the last one a minute before NOW."""
    store = StateStore.open(tmp_path / "state.db")
    try:
        first = NOW - timedelta(minutes=1) - every * (len(backlog) - 1)
        for i, deferred in enumerate(backlog):
            cycle(store, first + every * i, deferred)
    finally:
        store.close()


def texts(cfg: Config, now: datetime = NOW) -> list[str]:
    return [f.text for f in findings(take_snapshot(cfg, now), NO_DAEMON)]


def test_status_shows_the_backlog_of_the_last_cycle(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    write(tmp_path, [40, 30])
    snap = take_snapshot(cfg, NOW)
    lines = text_lines(snap, findings(snap, NO_DAEMON))
    line = next(x for x in lines if x.startswith("backlog main:"))
    assert line.startswith("backlog main: 30 messages deferred by the last cycle; oldest")
    assert "oldest received 31m ago" in line
    assert "not growing across 2h" in line
    data = as_json(snap, findings(snap, NO_DAEMON))["accounts"]["main"]["backlog"]
    assert data["messages"] == 30 and data["searches"] == 0
    assert data["oldest_age_s"] == 31 * 60
    assert data["oldest_deferred"] == (NOW - timedelta(minutes=31)).isoformat()
    assert data["growing_since"] is None and data["span_s"] == 7200


def test_status_says_no_backlog_when_the_last_cycle_deferred_nothing(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    write(tmp_path, [40, 0])
    snap = take_snapshot(cfg, NOW)
    lines = text_lines(snap, [])
    assert any(x.startswith("backlog main: no backlog (last cycle ") for x in lines)
    data = as_json(snap, [])["accounts"]["main"]["backlog"]
    assert (data["messages"], data["oldest_age_s"], data["oldest_deferred"]) == (0, None, None)


def test_check_warns_on_a_backlog_grown_across_the_span(tmp_path: Path) -> None:
    cfg = config(tmp_path)
    write(tmp_path, [10 * i + 100 for i in range(30)])  # 2h25m of cycles, every one deferring
    found = findings(take_snapshot(cfg, NOW), NO_DAEMON)
    assert verdict(found) == exitcodes.NAGIOS_WARNING
    (text,) = [f.text for f in found]
    # The first cycle is the last one started before the span (12:00 - 2h): 09:59.
    assert text.startswith("account main: quota backlog growing: 390 messages deferred, up from")
    assert "up from 150 messages deferred at 2026-11-02 09:59Z (every one of 25 cycles" in text
    assert "the oldest waits 31m" in text
    snap = take_snapshot(cfg, NOW)
    assert as_json(snap, found)["accounts"]["main"]["backlog"]["growing_since"] == (
        datetime(2026, 11, 2, 9, 59, tzinfo=UTC).isoformat()
    )
    assert "GROWING since 2026-11-02 09:59Z" in "\n".join(text_lines(snap, found))


def test_check_stays_ok_on_a_flat_or_shrinking_backlog(tmp_path: Path) -> None:
    write(tmp_path, [200] * 15 + [100] * 15)
    cfg = config(tmp_path)
    assert texts(cfg) == []
    # Flat, with ups and downs between: the ends are what counts.
    flat = tmp_path / "flat"
    flat.mkdir()
    write(flat, [200, 300, 150, 400] * 7 + [200, 200])
    assert texts(config(flat)) == []


def test_check_stays_ok_on_a_growing_backlog_younger_than_the_span(tmp_path: Path) -> None:
    write(tmp_path, [0] * 10 + [10 * i + 10 for i in range(20)])  # deferring for 1h35m only
    assert texts(config(tmp_path)) == []
    # The same backlog judged over a shorter span is a warning.
    short = config(tmp_path, "monitor: {backlog_warn_after: 1h}\n")
    (text,) = texts(short)
    assert "up from 80 messages deferred at 2026-11-02 10:59Z (every one of 13 cycles" in text


def test_check_stays_ok_when_the_history_is_shorter_than_the_span(tmp_path: Path) -> None:
    write(tmp_path, [10 * i + 10 for i in range(12)])  # the daemon started an hour ago
    assert texts(config(tmp_path)) == []


def test_a_cycle_without_deferrals_breaks_the_growth(tmp_path: Path) -> None:
    backlog = [10 * i + 100 for i in range(30)]
    backlog[20] = 0  # one cycle caught up: the backlog is new since then
    write(tmp_path, backlog)
    assert texts(config(tmp_path)) == []


def test_a_watermark_held_by_the_backlog_is_not_a_critical_lag(tmp_path: Path) -> None:
    store = StateStore.open(tmp_path / "state.db")
    try:
        cycle(store, NOW - timedelta(minutes=6), 500)
        store.set_watermark("main", QUERY, NOW - timedelta(hours=5), NOW)
    finally:
        store.close()
    cfg = config(tmp_path)
    assert texts(cfg) == []  # a backlog younger than the span: nothing at all
    # The same lag without a backlog behind it is critical.
    store = StateStore.open(tmp_path / "state.db")
    try:
        cycle(store, NOW - timedelta(minutes=1), 0)
        store.set_watermark("main", QUERY, NOW - timedelta(hours=5), NOW)
    finally:
        store.close()
    found = findings(take_snapshot(cfg, NOW), NO_DAEMON)
    assert verdict(found) == exitcodes.NAGIOS_CRITICAL
    assert [f.text for f in found] == ["account main: watermark lags 4h58m [route=inbound]"]


def test_a_backlog_with_errors_too_makes_a_lag_a_warning_at_most(tmp_path: Path) -> None:
    store = StateStore.open(tmp_path / "state.db")
    try:
        cycle(store, NOW - timedelta(minutes=6), 500, status="partial")
        store.set_watermark("main", QUERY, NOW - timedelta(hours=5), NOW)
    finally:
        store.close()
    found = findings(take_snapshot(config(tmp_path), NOW), NO_DAEMON)
    assert [(f.label, f.text) for f in found] == [
        (
            "WARNING",
            "account main: watermark lags 4h58m [route=inbound]"
            " (behind a quota backlog; the last cycle had errors too)",
        )
    ]


def test_a_growing_backlog_whose_watermark_lags_is_a_warning_only(tmp_path: Path) -> None:
    write(tmp_path, [10 * i + 100 for i in range(30)])
    store = StateStore.open(tmp_path / "state.db")
    try:
        store.set_watermark("main", QUERY, NOW - timedelta(hours=9), NOW)
    finally:
        store.close()
    found = findings(take_snapshot(config(tmp_path), NOW), NO_DAEMON)
    assert verdict(found) == exitcodes.NAGIOS_WARNING
    assert [f.text.split(":")[1] for f in found] == [" quota backlog growing"]


def test_a_backlog_nearing_the_catchup_horizon_is_a_warning(tmp_path: Path) -> None:
    store = StateStore.open(tmp_path / "state.db")
    try:
        report = CycleReport("main", False, NOW - timedelta(minutes=3))
        report.quota_deferred = 12
        report.note_deferred(NOW - timedelta(days=6))
        run_id = store.start_run("run", "main", NOW - timedelta(minutes=3), False)
        store.finish_run(run_id, NOW - timedelta(minutes=2), run_counts(report), "ok")
    finally:
        store.close()
    (text,) = texts(config(tmp_path))
    assert text == (
        "account main: the oldest deferred message waits 6d00h; cycles search back at most"
        " 7d00h (window.max_catchup): older mail is never tagged"
    )


def test_status_command_prints_the_backlog_and_checks_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg = config(tmp_path)
    monkeypatch.setenv("TEST_SECRET", ENV["TEST_SECRET"])
    now = datetime.now(UTC)
    store = StateStore.open(tmp_path / "state.db")
    try:
        for i in range(30):
            cycle(store, now - timedelta(minutes=146 - 5 * i), 100 + 10 * i)
    finally:
        store.close()
    args = ["-c", str(cfg.source), "status"]
    assert main([*args, "--no-daemon", "--check"]) == exitcodes.NAGIOS_WARNING
    out = capsys.readouterr().out
    assert out.startswith("TAGGER WARNING - account main: quota backlog growing: 390 messages")
    assert main([*args, "--json"]) == exitcodes.OK
    backlog = json.loads(capsys.readouterr().out)["accounts"]["main"]["backlog"]
    assert backlog["messages"] == 390 and backlog["growing_since"] is not None
    assert main(args) == exitcodes.OK
    assert "backlog main: 390 messages deferred by the last cycle" in capsys.readouterr().out


def test_metrics_follow_the_backlog_of_each_cycle() -> None:
    metrics = Metrics()
    report = CycleReport("main", False, NOW - timedelta(minutes=1), NOW)
    report.quota_deferred = 42
    report.note_deferred(NOW - timedelta(minutes=20))
    metrics.observe_cycle(report, 60.0, NOW)
    text = metrics.render().decode()
    assert 'tagger_backlog_messages{account="main"} 42.0' in text
    assert 'tagger_backlog_oldest_seconds{account="main"} 1200.0' in text
    # A cycle that could not run leaves the figures; one that caught up clears them.
    refused = CycleReport("main", False, NOW, NOW, account_error="HTTP 401")
    metrics.observe_cycle(refused, 1.0, NOW + timedelta(minutes=5))
    assert 'tagger_backlog_messages{account="main"} 42.0' in metrics.render().decode()
    metrics.observe_cycle(CycleReport("main", False, NOW, NOW), 1.0, NOW + timedelta(minutes=10))
    text = metrics.render().decode()
    assert 'tagger_backlog_messages{account="main"} 0.0' in text
    assert 'tagger_backlog_oldest_seconds{account="main"} 0.0' in text
