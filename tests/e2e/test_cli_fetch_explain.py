"""Explain a live message by id, save it as a fixture, and check rules against saved tags.

Real `tagger` processes against the simulator on 127.0.0.1.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from tagger import exitcodes
from tagger.rules import evaluate, load_rules
from tagger.simulator import Simulator, SimulatorConfig
from tests.support.daemon import RULES_DIR, run_tagger, sim_message, write_config


def matching_id(sim: Simulator) -> tuple[str, list[str]]:
    """Return a message some shipped rule tags, and the rules that match it."""
    ruleset = load_rules([RULES_DIR])
    for msg in sim.messages():
        decisions = evaluate(ruleset, sim_message(sim, msg.id))
        if decisions:
            return msg.id, sorted(d.rule_id for d in decisions)
    raise AssertionError("no message matches a shipped rule")


def test_explain_by_id_equals_explain_of_the_fetched_fixture(tmp_path: Path) -> None:
    with Simulator(SimulatorConfig(seed=41, messages=60)) as sim:
        cfg = str(write_config(tmp_path, sim))
        message_id, rules = matching_id(sim)
        fetched = run_tagger("fetch", "--id", message_id, "-c", cfg)
        assert fetched.returncode == 0, fetched.stderr
        fixture = tmp_path / "msg.json"
        fixture.write_text(fetched.stdout, encoding="utf-8")
        assert json.loads(fetched.stdout)["data"][0]["id"] == message_id

        live = run_tagger("explain", "--id", message_id, "-c", cfg, "--json")
        saved = run_tagger("explain", "--message", str(fixture), str(RULES_DIR), "--json")
        assert live.returncode == saved.returncode == 0, live.stderr + saved.stderr
        live_out, saved_out = json.loads(live.stdout), json.loads(saved.stdout)
        assert sorted(d["rule"] for d in live_out["decisions"]) == rules
        assert live_out["decisions"] == saved_out["decisions"]
        assert live_out["rules"] == saved_out["rules"]

        missing = run_tagger("fetch", "--id", "no-such-message", "-c", cfg)
        assert missing.returncode == exitcodes.FAILURE
        assert "no-such-message" in missing.stderr or "error" in missing.stderr
        unknown = run_tagger("explain", "--id", message_id, "-c", cfg, "--account", "dmeo")
        assert unknown.returncode == exitcodes.USER_ERROR
        assert "did you mean 'demo'?" in unknown.stderr

    # The fetched file works as a rule example fixture, as it is.
    rule = {
        "id": "from-fixture",
        "description": "matches the fetched message",
        "search": {"route": ["all"]},
        "match": {"field": "message.id", "equals": message_id},
        "tags": ["Security/Phishing"],
        "examples": [{"fixture": "msg.json", "expect": ["Security/Phishing"]}],
    }
    (tmp_path / "r.yaml").write_text(yaml.safe_dump({"rules": [rule]}), encoding="utf-8")
    tested = run_tagger("test", str(tmp_path / "r.yaml"))
    assert tested.returncode == 0, tested.stdout + tested.stderr
    assert "1 passed, 0 failed" in tested.stdout


def test_tags_json_feeds_validate_tags_from(tmp_path: Path) -> None:
    with Simulator(SimulatorConfig(seed=42, messages=10)) as sim:
        cfg = str(write_config(tmp_path, sim))
        listed = run_tagger("tags", "--json", "-c", cfg)
        assert listed.returncode == 0, listed.stderr
        data = json.loads(listed.stdout)
        paths = {t["path"] for t in data["accounts"]["demo"]}
        assert {t["path"] for t in sim.smart_tags()} == paths
    saved = tmp_path / "tags.json"
    saved.write_text(listed.stdout, encoding="utf-8")
    ok = run_tagger("validate", str(RULES_DIR), "--tags-from", str(saved))
    assert ok.returncode == 0, ok.stdout

    rule = {
        "id": "typo",
        "description": "a tag with a typo",
        "search": {"route": ["inbound"]},
        "tags": ["Security/Phishng"],
    }
    (tmp_path / "r.yaml").write_text(yaml.safe_dump({"rules": [rule]}), encoding="utf-8")
    bad = run_tagger("validate", str(tmp_path / "r.yaml"), "--tags-from", str(saved))
    assert bad.returncode == exitcodes.USER_ERROR
    assert "account demo: the account has no Smart Tag 'Security/Phishng'" in bad.stdout
    assert "did you mean 'Security/Phishing'?" in bad.stdout


def test_explain_names_the_message_and_marks_a_rule_awaiting_promotion(tmp_path: Path) -> None:
    fixture = RULES_DIR / "fixtures" / "phish-dmarc-fail.json"
    with Simulator(SimulatorConfig(seed=3, messages=5)) as sim:
        cfg = str(write_config(tmp_path, sim, rollout="audit-first"))
        before = run_tagger("explain", "--message", str(fixture), "-c", cfg)
        assert before.returncode == 0, before.stderr
        head = before.stdout.splitlines()[:4]
        assert head[1].startswith("  from:     '") and head[2].startswith("  subject:  '")
        assert head[3].startswith("  received: 20")
        assert "  audit-only: awaits `tagger promote phishing-suspect`" in before.stdout
        assert "decision: phishing-suspect [audit-only: awaiting promotion] →" in before.stdout
        as_json = json.loads(
            run_tagger("explain", "--message", str(fixture), "-c", cfg, "--json").stdout
        )
        assert as_json["sender"] and as_json["subject"]
        assert as_json["decisions"][0]["awaiting_promotion"] is True
        promoted = run_tagger("promote", "phishing-suspect", "--yes", "-c", cfg)
        assert promoted.returncode == 0, promoted.stderr
        after = run_tagger("explain", "--message", str(fixture), "-c", cfg)
        assert "decision: phishing-suspect [enforce] →" in after.stdout
        assert "awaits `tagger promote phishing-suspect`" not in after.stdout
    # Without a configuration nothing is known about promotions, and nothing is claimed.
    bare = run_tagger("explain", "--message", str(fixture), str(RULES_DIR))
    assert "decision: phishing-suspect [enforce] →" in bare.stdout
    # Values seen are shown one way: quoted text, lists in brackets.
    assert "(seen: 'inbound')" in bare.stdout
