"""status --check grades from a state file: stale cycles, lagging watermarks, failures,
pauses, the kill switch and rules awaiting promotion.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tagger import exitcodes
from tagger.monitor.checks import Thresholds, findings, verdict
from tagger.monitor.daemoninfo import DaemonInfo
from tagger.monitor.snapshot import Snapshot
from tagger.state.held import AWAITING, LIMIT, PAUSED, HeldCount
from tagger.state.railstore import PauseRow
from tagger.state.rows import FailureRow, RunRow

NOW = datetime(2026, 11, 2, 12, 0, tzinfo=UTC)


def run(account: str, status: str, finished: datetime) -> RunRow:
    return RunRow(1, "run", account, False, finished - timedelta(seconds=3), finished, status)


def snapshot(**changes: object) -> Snapshot:
    base = Snapshot(
        now=NOW,
        state_path=Path("/var/lib/tagger/state.db"),
        state_exists=True,
        interval=timedelta(minutes=5),
        ingestion_delay=timedelta(minutes=2),
        longest_schedule=timedelta(0),
        accounts=("main",),
        last_runs=(run("main", "ok", NOW - timedelta(minutes=1)),),
        last_completed={"main": run("main", "ok", NOW - timedelta(minutes=1))},
        watermarks=(("main", "q", NOW - timedelta(minutes=3)),),
        lock_held=True,
    )
    return replace(base, **changes)  # type: ignore[arg-type]


def level(snap: Snapshot, limits: Thresholds | None = None) -> int:
    return verdict(findings(snap, limits or Thresholds()))


def test_checks_grade_stale_cycles_and_lagging_watermarks() -> None:
    assert level(snapshot()) == exitcodes.NAGIOS_OK
    old = run("main", "ok", NOW - timedelta(minutes=20))
    assert level(snapshot(last_completed={"main": old})) == exitcodes.NAGIOS_WARNING
    older = run("main", "ok", NOW - timedelta(minutes=40))
    assert level(snapshot(last_completed={"main": older})) == exitcodes.NAGIOS_CRITICAL
    assert level(snapshot(last_completed={})) == exitcodes.NAGIOS_WARNING
    lagging = (("main", "q", NOW - timedelta(minutes=20)),)
    assert level(snapshot(watermarks=lagging)) == exitcodes.NAGIOS_WARNING
    # A rule that runs hourly lags by design.
    hourly = snapshot(watermarks=lagging, longest_schedule=timedelta(hours=1))
    assert level(hourly) == exitcodes.NAGIOS_OK
    loose = Thresholds(warn_intervals=5, crit_intervals=10)
    assert level(snapshot(watermarks=lagging), loose) == exitcodes.NAGIOS_OK


def test_checks_report_failures_pauses_stops_and_the_lock() -> None:
    failing = FailureRow("main", "m1", 2, NOW, NOW, "HTTP 500")
    assert level(snapshot(failures=(failing,))) == exitcodes.NAGIOS_WARNING
    aside = replace(failing, set_aside_at=NOW)
    assert level(snapshot(failures=(failing, aside))) == exitcodes.NAGIOS_CRITICAL
    assert level(snapshot(paused=("phishing-suspect",))) == exitcodes.NAGIOS_WARNING
    stopped = (replace(run("main", "stopped", NOW), error="key binding expired"),)
    assert level(snapshot(last_runs=stopped)) == exitcodes.NAGIOS_CRITICAL
    # auto: no daemon has ever run (cycles from `tagger once`): the lock is no finding.
    assert level(snapshot(lock_held=False)) == exitcodes.NAGIOS_OK
    ran = DaemonInfo(41, NOW - timedelta(hours=1), "/etc/tagger/config.yaml")
    assert level(snapshot(lock_held=False, daemon=ran)) == exitcodes.NAGIOS_CRITICAL
    texts = [f.text for f in findings(snapshot(lock_held=False, daemon=ran), Thresholds())]
    assert texts == [
        "no daemon holds the lock of /var/lib/tagger/state.db (the daemon started"
        " 2026-11-02 11:00:00Z did not stop cleanly)"
    ]
    clean = replace(ran, stopped=NOW - timedelta(minutes=2))
    assert level(snapshot(lock_held=False, daemon=clean)) == exitcodes.NAGIOS_OK
    required = Thresholds(expect_daemon=True)
    assert level(snapshot(lock_held=False, daemon=clean), required) == exitcodes.NAGIOS_CRITICAL
    assert level(snapshot(lock_held=False), required) == exitcodes.NAGIOS_CRITICAL
    no_daemon = Thresholds(expect_daemon=False)
    assert level(snapshot(lock_held=False), no_daemon) == exitcodes.NAGIOS_OK
    assert level(snapshot(lock_held=None)) == exitcodes.NAGIOS_OK
    texts = [f.text for f in findings(snapshot(rules_error="x.yaml:1: bad"), Thresholds())]
    assert texts == ["rule files do not load: x.yaml:1: bad"]


def test_checks_warn_on_the_kill_switch_disabled_accounts_and_rules_awaiting_promotion() -> None:
    assert level(snapshot(kill_switch=True)) == exitcodes.NAGIOS_WARNING
    assert level(snapshot(disabled=("main",))) == exitcodes.NAGIOS_WARNING
    texts = [f.text for f in findings(snapshot(awaiting=("phishing-suspect",)), Thresholds())]
    assert texts == [
        "rules awaiting promotion: phishing-suspect (nothing held yet) (tagger promote RULE)"
    ]


def test_rails_warn_with_how_long_and_how_many_held_pairs_never_critical() -> None:
    held = (
        HeldCount("main", "phishing-suspect", AWAITING, 41, 44, NOW - timedelta(hours=5)),
        HeldCount("main", "bulk", LIMIT, 3, 3, NOW - timedelta(minutes=30)),
        HeldCount("main", "bulk", PAUSED, 2, 2, NOW - timedelta(minutes=50)),
    )
    pause = PauseRow(
        "main", "bulk", "per-cycle apply limit", 5, 5, "per_cycle", NOW - timedelta(hours=2)
    )
    snap = snapshot(
        awaiting=("phishing-suspect",),
        paused=("bulk (main)",),
        pauses=(pause,),
        held=held,
    )
    found = findings(snap, Thresholds())
    assert verdict(found) == exitcodes.NAGIOS_WARNING
    texts = [f.text for f in found]
    assert texts == [
        "rules paused: bulk (main) for 2h00m (per-cycle apply limit; 5 messages, 5 tags held)"
        " (tagger resume RULE)",
        "rules awaiting promotion: phishing-suspect for 5h00m (41 messages, 44 tags held)"
        " (tagger promote RULE)",
    ]
