"""`tagger status`: JSON, tag paths, recent cycles, and Nagios-style `--check` on a real daemon.

The daemon is a real `tagger run` process against the simulator; its lock is
a real flock, its reloads real SIGHUPs; the checks' thresholds are also tested
on snapshots built by hand.
"""

from __future__ import annotations

import json
import shutil
import signal
from pathlib import Path

from tagger import exitcodes
from tagger.simulator import Simulator, SimulatorConfig
from tests.support.daemon import (
    RELAXED_AGES,
    RULES_DIR,
    Running,
    run_tagger,
    wait_until,
    write_config,
)


def status_json(cfg: str) -> dict[str, object]:
    done = run_tagger("status", "--json", "-c", cfg)
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def test_status_check_follows_a_real_daemon(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(RULES_DIR, rules)
    with Simulator(SimulatorConfig(seed=51, messages=150)) as sim:
        cfg = str(write_config(tmp_path, sim, rules=[rules / "*.yaml"]))
        never = run_tagger("status", "--check", "-c", cfg)
        assert never.returncode == exitcodes.NAGIOS_CRITICAL, never.stdout
        assert never.stdout.startswith("TAGGER CRITICAL - ")

        daemon = Running("run", "-c", cfg)
        try:
            daemon.wait_event("cycle_finished", 1)
            ok = run_tagger("status", "--check", "-c", cfg)
            assert ok.returncode == exitcodes.NAGIOS_OK, ok.stdout
            assert ok.stdout.startswith("TAGGER OK - ")

            data = status_json(cfg)
            assert data["lock_held"] is True
            assert data["daemon"]["pid"] == daemon.pid  # type: ignore[index]
            tags = {t["path"] for t in sim.smart_tags()}
            shown = data["tags_per_rule"]
            assert isinstance(shown, list) and shown
            assert all(row["tag_path"] in tags for row in shown)
            assert data["recent_cycles"][0]["kind"] == "run"  # type: ignore[index]
            text = run_tagger("status", "-c", cfg).stdout
            assert "daemon: running (pid " in text and "recent cycles (newest first):" in text
            assert " -> Security/Phishing (st-" in text

            # A broken rule file: the reload is rejected, the daemon keeps its rules.
            (rules / "broken.yaml").write_text("rules: [\n", encoding="utf-8")
            daemon.signal(signal.SIGHUP)
            daemon.wait_event("reload_rejected", 1)
            wait_until(lambda: status_json(cfg)["last_reload"] is not None, 10, "the reload noted")
            rejected = run_tagger("status", "--check", "-c", cfg)
            assert rejected.returncode == exitcodes.NAGIOS_WARNING, rejected.stdout
            assert "last reload rejected" in rejected.stdout
            assert "rule files do not load" in rejected.stdout
        finally:
            assert daemon.stop() == 0, daemon.stderr[-3000:]

        (rules / "broken.yaml").unlink()
        # Stopped cleanly (SIGTERM): no daemon is expected until one starts again.
        stopped = run_tagger("status", "--check", "-c", cfg)
        assert stopped.returncode == exitcodes.NAGIOS_WARNING, stopped.stdout  # the old reload
        assert "no daemon holds the lock" not in stopped.stdout
        assert "daemon: stopped cleanly" in run_tagger("status", "-c", cfg).stdout
        required = run_tagger("status", "--check", "--daemon", "-c", cfg)
        assert required.returncode == exitcodes.NAGIOS_CRITICAL, required.stdout
        assert "no daemon holds the lock" in required.stdout

        # A daemon that dies without stopping cleanly is CRITICAL at once.
        crashed = Running("run", "-c", cfg)
        try:
            crashed.wait_event("cycle_finished", 1)
        finally:
            crashed.signal(signal.SIGKILL)
            crashed.wait()
        dead = run_tagger("status", "--check", "-c", cfg)
        assert dead.returncode == exitcodes.NAGIOS_CRITICAL, dead.stdout
        assert "did not stop cleanly" in dead.stdout
        timer = run_tagger("status", "--check", "--no-daemon", "-c", cfg)
        assert timer.returncode == exitcodes.NAGIOS_OK, timer.stdout


def test_once_from_a_timer_is_not_critical_for_the_missing_daemon(tmp_path: Path) -> None:
    with Simulator(SimulatorConfig(seed=52, messages=40)) as sim:
        cfg = str(write_config(tmp_path, sim))
        done = run_tagger("once", "-c", cfg)
        assert done.returncode == exitcodes.OK, done.stderr[-3000:]
        check = run_tagger("status", "--check", "-c", cfg)
        assert check.returncode == exitcodes.NAGIOS_OK, check.stdout
        text = run_tagger("status", "-c", cfg).stdout
        assert "daemon: none has run (cycles from `tagger once`)" in text
        assert text.rstrip().endswith("check: OK"), text
        # The config can ask for a daemon all the same.
        config = Path(cfg)
        config.write_text(
            config.read_text(encoding="utf-8") + "monitor:\n  expect_daemon: true\n",
            encoding="utf-8",
        )
        required = run_tagger("status", "--check", "-c", cfg)
        assert required.returncode == exitcodes.NAGIOS_CRITICAL, required.stdout
        assert "no daemon holds the lock" in required.stdout


def test_status_shows_rules_awaiting_promotion_and_the_kill_switch(tmp_path: Path) -> None:
    with Simulator(SimulatorConfig(seed=51, messages=60)) as sim:
        cfg = str(write_config(tmp_path, sim, rollout="audit-first"))
        first = run_tagger("once", "-c", cfg)
        assert first.returncode in (0, 3), first.stderr
        data = status_json(cfg)
        waiting = data["awaiting_promotion"]
        assert isinstance(waiting, list) and "phishing-suspect" in waiting
        assert data["kill_switch"] is False
        text = run_tagger("status", "-c", cfg).stdout
        assert "awaiting promotion: " in text and "phishing-suspect" in text
        assert "kill switch: off" in text

        assert run_tagger("pause", "--all", "-c", cfg).returncode == 0
        promoted = run_tagger("promote", "phishing-suspect", "--yes", "-c", cfg)
        assert promoted.returncode == 0, promoted.stderr
        data = status_json(cfg)
        assert data["kill_switch"] is True
        assert "phishing-suspect" not in data["awaiting_promotion"]  # type: ignore[operator]
        assert "kill switch: ON" in run_tagger("status", "-c", cfg).stdout
        check = run_tagger("status", "--check", "--no-daemon", *RELAXED_AGES, "-c", cfg)
        # Rails hold no window: a warning, never a watermark's critical.
        assert check.returncode == exitcodes.NAGIOS_WARNING, check.stdout
        assert "watermark" not in check.stdout
        assert "kill switch on" in check.stdout and "rules awaiting promotion" in check.stdout
