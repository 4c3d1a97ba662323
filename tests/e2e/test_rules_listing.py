"""`tagger rules`: the rule set with each rule's state, as the configuration's rollout and
the state file say, read by a real `tagger` process next to real cycles on the simulator."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tagger.config.loader import DEFAULT_CONFIG_PATH
from tagger.rules import RuleSet, load_rules
from tagger.simulator import Simulator, SimulatorConfig
from tests.support.daemon import RULES_DIR, expected_pairs, run_tagger, write_config


def listing(cfg: str) -> dict[str, Any]:
    done = run_tagger("rules", "-c", cfg, "--json")
    assert done.returncode == 0, done.stderr
    data: dict[str, Any] = json.loads(done.stdout)
    return data


def states(data: dict[str, Any]) -> dict[str, str]:
    return {r["id"]: r["state"] for r in data["rules"]}


def test_the_listing_follows_promotion_pauses_and_the_kill_switch(tmp_path: Path) -> None:
    ruleset = load_rules([RULES_DIR])
    enforcing = [r for r in ruleset.rules if r.mode == "enforce"]
    with Simulator(SimulatorConfig(seed=11, messages=200)) as sim:
        sizes = {r.id: len(expected_pairs(sim, RuleSet(rules=(r,)))) for r in enforcing}
        busiest = max(sizes, key=lambda rule: sizes[rule])
        assert sizes[busiest] > 4
        cfg = str(
            write_config(
                tmp_path, sim, rollout="audit-first", limits={"per_cycle": 4, "per_day": 1000}
            )
        )
        # No state yet: every enforce rule awaits promotion; audit rules only audit.
        before = listing(cfg)
        assert before["rollout"] == "audit-first" and before["kill_switch"] is False
        assert states(before) == {
            r.id: "awaiting promotion" if r.mode == "enforce" else "audit only"
            for r in ruleset.all_rules()
        }
        phish = next(r for r in before["rules"] if r["id"] == "phishing-suspect")
        assert (phish["level"], phish["status"], phish["owner"]) == (
            "high",
            "stable",
            "secops@example.com",
        )
        assert phish["content_hash"] == ruleset.by_id["phishing-suspect"].content_hash

        # Promoted, the busiest rule applies until its per-cycle limit pauses it.
        assert run_tagger("promote", busiest, "--yes", "-c", cfg).returncode == 0
        assert states(listing(cfg))[busiest] == "enforcing"
        run_tagger("once", "-c", cfg)
        after = listing(cfg)
        assert states(after)[busiest] == "paused"
        assert next(r for r in after["rules"] if r["id"] == busiest)["paused_accounts"] == ["demo"]
        others = {r.id for r in enforcing} - {busiest}
        assert {states(after)[r] for r in others} == {"awaiting promotion"}

        # The text listing: a header, one line per rule, the kill switch named.
        assert run_tagger("pause", "--all", "-c", cfg).returncode == 0
        text = run_tagger("rules", "-c", cfg)
        assert text.returncode == 0, text.stderr
        lines = text.stdout.splitlines()
        assert lines[0].split() == ["RULE", "MODE", "STATE", "LEVEL", "OWNER", "TAGS"]
        row = next(ln for ln in lines if ln.startswith(busiest + " "))
        assert "paused (demo)" in row
        phish_row = next(ln for ln in lines if ln.startswith("phishing-suspect "))
        assert "high" in phish_row and "secops@example.com" in phish_row
        assert "kill switch on: nothing is applied (tagger resume --all)" in text.stdout
        assert listing(cfg)["kill_switch"] is True


@pytest.mark.skipif(DEFAULT_CONFIG_PATH.exists(), reason="this machine has a system config")
def test_without_a_configuration_the_listing_says_what_it_cannot_know() -> None:
    done = run_tagger("rules", str(RULES_DIR), env={"TAGGER_CONFIG": ""})
    assert done.returncode == 0, done.stderr
    assert "no configuration: states from the rule files only" in done.stdout
    assert "unknown" in done.stdout and "audit only" in done.stdout


def test_invalid_rule_files_are_listed_as_problems(tmp_path: Path) -> None:
    bad = tmp_path / "bad.yaml"
    bad.write_text(
        "rules:\n  - id: x\n    description: d\n    search: {route: [inbound]}\n"
        "    tags: [T]\n    level: severe\n",
        encoding="utf-8",
    )
    done = run_tagger("rules", str(bad))
    assert done.returncode == 2
    assert f"{bad}:6:12: error:" in done.stdout and "informational, low, medium" in done.stdout
