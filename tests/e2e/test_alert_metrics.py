"""Each shipped alert's condition, brought about on a real daemon against the simulator:
the metric the alert rule reads moves on the daemon's live /metrics listener.

The daemon (`tagger run`, a real process) cycles every 2 s; each test scrapes
its listener on 127.0.0.1 until the figure moves (bounded waits). Which
metrics each alert reads comes from the shipped rule file itself, so a rule
that changes what it reads is checked against what the daemon exports.
"""

from __future__ import annotations

import shutil
import signal
from datetime import timedelta
from pathlib import Path
from typing import Any

from tagger.rules import evaluate, load_rules
from tagger.simulator import Simulator, SimulatorConfig
from tagger.simulator.config import ENDPOINTS
from tests.support.alerts import alert_rules, metric_names, scrape, value
from tests.support.daemon import (
    RULES_DIR,
    Running,
    account_yaml,
    free_port,
    run_tagger,
    sim_message,
    wait_until,
    write_config,
)

ACCOUNT = "demo"


class Scraped:
    """A daemon's metrics listener, scraped on demand."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.seen: set[str] = set()

    def get(self, name: str, **labels: str) -> float | None:
        samples = scrape(self.port)
        self.seen |= {n for n, _l, _v in samples}
        return value(samples, name, **labels)

    def until(self, what: str, name: str, test: Any, timeout: float = 30, **labels: str) -> float:
        """Wait until the sample ``name`` passes ``test``; return its value."""
        got: list[float] = []

        def ok() -> bool:
            current = self.get(name, **labels)
            if current is not None and test(current):
                got.append(current)
                return True
            return False

        wait_until(ok, timeout, what, interval=0.1)
        return got[0]


def reads(*alerts: str) -> set[str]:
    """Return the tagger metrics the named shipped alerts read."""
    rules = alert_rules()
    return {m for a in alerts for m in metric_names(rules[a]["expr"]) if m != "up"}


def copied_rules(tmp_path: Path) -> Path:
    rules = tmp_path / "rules"
    shutil.copytree(RULES_DIR, rules)
    return rules


def victim_needing_info(sim: Simulator) -> str:
    """Return a message that gets a tag from a rule that reads message info."""
    ruleset = load_rules([RULES_DIR])
    by_id = {r.id: r for r in ruleset.rules}
    for record in sim.messages():
        decisions = evaluate(ruleset, sim_message(sim, record.id))
        if any(d.mode == "enforce" and by_id[d.rule_id].needs_info for d in decisions):
            return record.id
    raise AssertionError("no message needs info to be tagged")


def daemon(tmp_path: Path, sim: Simulator, **overrides: Any) -> tuple[Running, Scraped, str]:
    port = free_port()
    metrics = {"enabled": True, "host": "127.0.0.1", "port": port}
    cfg = str(write_config(tmp_path, sim, metrics=metrics, **overrides))
    running = Running("run", "-c", cfg)
    running.wait_event("metrics_listening")
    return running, Scraped(port), cfg


def test_failures_set_aside_kill_switch_reload_and_a_stopped_account_move_their_metrics(
    tmp_path: Path,
) -> None:
    with Simulator(SimulatorConfig(seed=21, messages=120)) as sim:
        rules = copied_rules(tmp_path)
        sim.fail_message(victim_needing_info(sim), 1_000)
        proc, live, cfg = daemon(
            tmp_path,
            sim,
            rules=[rules / "*.yaml"],
            max_failures=3,
            accounts=[account_yaml(sim, ACCOUNT, api_version="1.0")],
        )
        try:
            # Cycles complete: the staleness alerts' inputs are there and move.
            first = live.until(
                "a completed cycle",
                "tagger_last_cycle_completed_timestamp_seconds",
                lambda v: v > 0,
                account=ACCOUNT,
            )
            assert live.get("tagger_schedule_interval_seconds", account=ACCOUNT) == 2.0
            longest = max(r.schedule or timedelta(0) for r in load_rules([rules]).rules)
            assert longest > timedelta(seconds=2), "a shipped rule has a longer schedule"
            unit = live.get("tagger_watermark_interval_seconds", account=ACCOUNT)
            assert unit == longest.total_seconds()
            assert live.get("tagger_ingestion_delay_seconds", account=ACCOUNT) == 0.0
            assert live.get("tagger_catchup_seconds", account=ACCOUNT) == 7 * 86400
            live.until(
                "a later cycle",
                "tagger_last_cycle_completed_timestamp_seconds",
                lambda v: v > first,
                account=ACCOUNT,
            )
            assert live.get("tagger_watermark_lag_seconds", account=ACCOUNT) is not None

            # A message failing, then set aside after max_failures attempts.
            live.until(
                "a failing message", "tagger_messages_failing", lambda v: v == 1, account=ACCOUNT
            )
            # The failing message holds its query's watermark: the lag the alert reads.
            held = live.get("tagger_watermark_lag_seconds", account=ACCOUNT)
            assert held is not None and held > 60, held
            live.until(
                "the message set aside",
                "tagger_messages_set_aside",
                lambda v: v == 1,
                account=ACCOUNT,
            )
            assert live.get("tagger_messages_failing", account=ACCOUNT) == 0
            # Set aside, it no longer holds the watermark: the lag falls.
            live.until(
                "the watermark moving on",
                "tagger_watermark_lag_seconds",
                lambda v: v < held,
                account=ACCOUNT,
            )

            # The kill switch, on and off.
            assert run_tagger("pause", "--all", "-c", cfg).returncode == 0
            live.until(
                "the kill switch on", "tagger_kill_switch", lambda v: v == 1, account=ACCOUNT
            )
            assert run_tagger("resume", "--all", "-c", cfg).returncode == 0
            live.until(
                "the kill switch off", "tagger_kill_switch", lambda v: v == 0, account=ACCOUNT
            )

            # A rejected reload, then a good one.
            assert live.get("tagger_last_reload_rejected") == 0
            assert live.get("tagger_rule_files_invalid") == 0
            broken = rules / "zz-broken.yaml"
            broken.write_text("rules:\n  - id: broken\n    priorty: 5\n", encoding="utf-8")
            # Seen on disk at the next cycle, before any reload: the next one would fail.
            live.until("the files seen invalid", "tagger_rule_files_invalid", lambda v: v == 1)
            invalid = proc.wait_event("rule_files_invalid")[0]
            assert "zz-broken.yaml:2:5" in invalid["problem"], invalid
            proc.signal(signal.SIGHUP)
            live.until("the reload rejected", "tagger_last_reload_rejected", lambda v: v == 1)
            assert live.get("tagger_reloads_total", result="rejected") == 1
            broken.unlink()
            proc.signal(signal.SIGHUP)
            live.until("the reload done", "tagger_last_reload_rejected", lambda v: v == 0)
            assert live.get("tagger_rule_files_invalid") == 0
            assert live.get("tagger_reloads_total", result="done") == 1

            # The key binding expires: the account stops, its cycles no longer complete.
            sim.expire_key_binding()
            live.until(
                "the account stopped",
                "tagger_last_cycle_status",
                lambda v: v == 1,
                account=ACCOUNT,
                status="stopped",
            )
            assert live.get("tagger_last_cycle_status", account=ACCOUNT, status="ok") == 0
            stopped_at = live.get("tagger_last_cycle_completed_timestamp_seconds", account=ACCOUNT)
            proc.wait_event("cycle_finished", len(proc.named("cycle_finished")) + 2)
            assert (
                live.get("tagger_last_cycle_completed_timestamp_seconds", account=ACCOUNT)
                == stopped_at
            )
        finally:
            proc.stop()
    assert (
        reads(
            "TaggerNoCompletedCycle",
            "TaggerCyclesStale",
            "TaggerCyclesStaleCritical",
            "TaggerMessagesFailing",
            "TaggerMessagesSetAside",
            "TaggerKillSwitchOn",
            "TaggerReloadRejected",
            "TaggerAccountStopped",
            "TaggerCycleRefused",
        )
        <= live.seen
    )


def test_promotion_and_pauses_move_their_metrics(tmp_path: Path) -> None:
    with Simulator(SimulatorConfig(seed=11, messages=200)) as sim:
        proc, live, cfg = daemon(
            tmp_path, sim, rollout="audit-first", limits={"per_cycle": 4, "per_day": 1000}
        )
        try:
            live.until(
                "rules awaiting promotion",
                "tagger_rules_awaiting_promotion",
                lambda v: v > 0,
                account=ACCOUNT,
            )
            assert live.get("tagger_rules_paused", account=ACCOUNT) == 0
            for rule in load_rules([RULES_DIR]).rules:
                if rule.mode == "enforce":
                    done = run_tagger("promote", rule.id, "--yes", "-c", cfg)
                    assert done.returncode == 0, done.stderr
            live.until(
                "nothing awaiting promotion",
                "tagger_rules_awaiting_promotion",
                lambda v: v == 0,
                account=ACCOUNT,
            )
            # Promoted, they apply, and the per-cycle limit pauses them.
            live.until("rules paused", "tagger_rules_paused", lambda v: v > 0, account=ACCOUNT)
            live.until(
                "pauses counted", "tagger_rule_pauses_total", lambda v: v > 0, account=ACCOUNT
            )
        finally:
            proc.stop()
    assert reads("TaggerRulesAwaitingPromotion", "TaggerRulesPaused") <= live.seen


def test_a_failed_preflight_moves_its_counter_and_the_cycle_status(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the audit folder should be\n")
    with Simulator(SimulatorConfig(seed=11, messages=60)) as sim:
        proc, live, _cfg = daemon(tmp_path, sim, audit={"path": str(blocker / "audit.jsonl")})
        try:
            live.until(
                "a preflight failure",
                "tagger_preflight_failures_total",
                lambda v: v >= 1,
                account=ACCOUNT,
            )
            live.until(
                "the cycle refused",
                "tagger_last_cycle_status",
                lambda v: v == 1,
                account=ACCOUNT,
                status="failed",
            )
            assert sim.stats()["endpoints"]["apply"]["total"] == 0
        finally:
            proc.stop()
    assert reads("TaggerPreflightFailed", "TaggerCycleRefused") <= live.seen


def test_a_quota_backlog_moves_the_backlog_metrics(tmp_path: Path) -> None:
    quota = {endpoint: (10, 2.0) for endpoint in ENDPOINTS}
    with Simulator(SimulatorConfig(seed=5, messages=80, rate_limits=quota)) as sim:
        schedule = {"interval": "2s", "jitter": "0s", "misfire_grace": "1m", "max_cycle": "1s"}
        proc, live, _cfg = daemon(tmp_path, sim, schedule=schedule)
        try:
            live.until("a backlog", "tagger_backlog_messages", lambda v: v > 0, account=ACCOUNT)
            assert (live.get("tagger_backlog_oldest_seconds", account=ACCOUNT) or 0) > 0
        finally:
            proc.stop()
    assert (
        reads(
            "TaggerBacklogGrowing",
            "TaggerBacklogNearsHorizon",
            "TaggerWatermarkLagging",
            "TaggerWatermarkLaggingCritical",
        )
        <= live.seen
    )
