"""Errors that teach: valid operators, fields suggested by meaning, files, unknown tags.

Rule files are checked through the real `tagger validate`; unknown tags through
a real `tagger once` against the simulator, in both `strict_tags` settings.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import yaml

from tagger import exitcodes
from tagger.rules import load_rules
from tagger.simulator import Simulator, SimulatorConfig
from tagger.yamldoc.suggest import closest
from tests.support.daemon import RULES_DIR, applied_pairs, expected_pairs, run_tagger, write_config

RULE = {
    "id": "r1",
    "description": "x",
    "search": {"route": ["inbound"]},
    "tags": ["Security/Phishing"],
}


def write_rule(tmp: Path, match: object, tags: list[str] | None = None) -> Path:
    path = tmp / "r.yaml"
    rule = dict(RULE, match=match, tags=tags or RULE["tags"])
    path.write_text(yaml.safe_dump({"rules": [rule]}, sort_keys=False), encoding="utf-8")
    return path


def test_an_unknown_operator_lists_the_operators_of_the_fields_type(tmp_path: Path) -> None:
    done = run_tagger("validate", str(write_rule(tmp_path, {"field": "spam.score", "greater": 5})))
    assert done.returncode == exitcodes.USER_ERROR
    assert "'greater' is not an operator of spam.score (number)" in done.stdout
    assert "use one of: equals, in, gt, gte, lt, lte, exists" in done.stdout
    text = run_tagger("validate", str(write_rule(tmp_path, {"field": "subject", "greater": 5})))
    assert "(use one of: equals, in, contains, startswith" in text.stdout


def test_an_unknown_field_is_suggested_by_meaning_and_by_spelling(tmp_path: Path) -> None:
    done = run_tagger(
        "validate", str(write_rule(tmp_path, {"field": "dmarc.status", "equals": "fail"}))
    )
    assert done.returncode == exitcodes.USER_ERROR
    assert "did you mean 'dmarc.result'?" in done.stdout
    fields = ["dmarc.result", "dmarc.allow", "status", "spf.result", "spam.score", "subject"]
    assert closest("spf.verdict", fields) == "spf.result"
    assert closest("spam.scor", fields) == "spam.score"
    assert closest("subjet", fields) == "subject"
    assert closest("dmarc.allowed", fields) == "dmarc.allow"
    assert closest("nothing.like.it", fields) is None


def test_tags_from_a_missing_file_suggests_the_one_that_exists(tmp_path: Path) -> None:
    (tmp_path / "tags.json").write_text(json.dumps([{"id": "st-1", "path": "A/B"}]))
    done = run_tagger("validate", str(RULES_DIR), "--tags-from", str(tmp_path / "tag.json"))
    assert done.returncode == exitcodes.USER_ERROR
    assert "no such file (--tags-from)" in done.stderr
    assert "did you mean 'tags.json'?" in done.stderr


def test_an_unknown_tag_refuses_only_its_rule_unless_strict(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    shutil.copytree(RULES_DIR, rules)
    typo = dict(RULE, id="typo-tag", match={"field": "spam.score", "gte": 0})
    typo["tags"] = ["Security/Phishng"]
    (rules / "typo.yaml").write_text(yaml.safe_dump({"rules": [typo]}), encoding="utf-8")
    with Simulator(SimulatorConfig(seed=81, messages=120)) as sim:
        strict = write_config(tmp_path, sim, rules=[rules / "*.yaml"], strict_tags=True)
        refused = run_tagger("once", "-c", str(strict))
        assert refused.returncode == exitcodes.USER_ERROR
        assert "the account has no Smart Tag 'Security/Phishng'" in refused.stderr
        assert "did you mean 'Security/Phishing'?" in refused.stderr
        assert applied_pairs(sim) == set()

        lenient = write_config(tmp_path, sim, rules=[rules / "*.yaml"])
        done = run_tagger("once", "-c", str(lenient))
        assert done.returncode == 0, done.stderr
        events = [json.loads(x) for x in done.stderr.splitlines() if x.startswith("{")]
        (event,) = [e for e in events if e["event"] == "rule_refused_unknown_tags"]
        assert event["rule"] == "typo-tag" and "Security/Phishng" in event["problems"][0]
        assert "typo-tag" not in done.stdout
        assert applied_pairs(sim) == expected_pairs(sim, load_rules([RULES_DIR]))
