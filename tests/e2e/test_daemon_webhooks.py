"""`notify:` webhooks from a real daemon against the simulator, received on 127.0.0.1:
a rule paused, a reload rejected and an account failing, each told once, in the
target's format, and the URL (which carries a token) never in the logs."""

from __future__ import annotations

import shutil
import signal
from pathlib import Path

from tagger.simulator import Simulator, SimulatorConfig
from tests.support.daemon import RULES_DIR, Running, account_yaml, wait_until, write_config
from tests.support.receiver import Receiver

TOKEN = "T0001/B0002/webhook-secret-token"


def test_the_daemon_tells_each_webhook_what_it_asked_for_once(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(RULES_DIR, rules)
    with Receiver() as receiver, Simulator(SimulatorConfig(seed=11, messages=200)) as sim:
        notify = [
            {"url": {"env": "HOOK_URL"}},
            {"url": receiver.url("/slack"), "format": "slack", "events": ["reload_rejected"]},
            {"url": receiver.url("/teams"), "format": "teams", "events": ["rule_paused"]},
        ]
        cfg = write_config(
            tmp_path,
            sim,
            rules=[rules / "*.yaml"],
            accounts=[account_yaml(sim, "corp", api_version="1.0")],
            limits={"per_cycle": 4, "per_day": 1000},
            notify=notify,
        )
        daemon = Running("run", "-c", str(cfg), env={"HOOK_URL": receiver.url("/" + TOKEN)})
        try:
            # Rules over their per-cycle limit are paused: told once each, on both targets.
            wait_until(lambda: receiver.bodies("/teams"), 30, "a rule_paused on Teams")
            daemon.wait_event("cycle_finished", len(daemon.named("cycle_finished")) + 2)
            paused = [b for b in receiver.bodies("/" + TOKEN) if b["event"] == "rule_paused"]
            assert paused and all(b["account"] == "corp" for b in paused)
            rules_told = [b["rule"] for b in paused]
            assert len(rules_told) == len(set(rules_told)), rules_told
            card = receiver.bodies("/teams")[0]["attachments"][0]["content"]
            assert card["type"] == "AdaptiveCard"
            assert {b["rule"] for b in paused} == {
                f["value"]
                for body in receiver.bodies("/teams")
                for block in body["attachments"][0]["content"]["body"]
                if block["type"] == "FactSet"
                for f in block["facts"]
                if f["title"] == "Rule"
            }

            # A broken rule file at SIGHUP: Slack and the JSON target hear of it.
            (rules / "zz-broken.yaml").write_text("rules:\n  - id: x\n    priorty: 1\n")
            daemon.signal(signal.SIGHUP)
            wait_until(lambda: receiver.bodies("/slack"), 30, "the reload_rejected on Slack")
            slack = receiver.bodies("/slack")[0]
            assert "Reload rejected" in slack["text"] and "zz-broken.yaml" in str(slack)

            # The key binding expires: the account's cycle cannot run; told once.
            sim.expire_key_binding()

            def failing() -> list[dict[str, object]]:
                return [b for b in receiver.bodies("/" + TOKEN) if b["event"] == "account_failing"]

            wait_until(failing, 30, "an account_failing event")
            daemon.wait_event("cycle_finished", len(daemon.named("cycle_finished")) + 2)
            assert len(failing()) == 1
            assert "corp" in str(failing()[0]["summary"])
        finally:
            daemon.stop()
    kinds = {b["event"] for b in receiver.bodies("/" + TOKEN)}
    assert kinds == {"rule_paused", "reload_rejected", "account_failing"}
    assert {p for p, _b in receiver.received} == {"/" + TOKEN, "/slack", "/teams"}
    assert "webhook-secret-token" not in daemon.stderr + daemon.stdout
    assert daemon.named("notify_sent")
