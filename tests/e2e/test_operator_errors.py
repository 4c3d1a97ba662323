"""Errors that say where and how, and `tagger pause RULE`, through real `tagger` processes.

Each bad-input case asserts that the message names the place, the value and
the fix: a tab in YAML, no config file, a mistyped rule id for promote,
resume and pause, a bad rule duration, and a duplicate id reported in the
same pass as the rule's schema errors. `pause RULE` is checked against the
simulator: the paused rule applies nothing, the others go on, and after
`resume` it applies each of its tags once.
"""

from __future__ import annotations

from pathlib import Path

from tagger import exitcodes
from tagger.rules import RuleSet, load_rules
from tagger.simulator import Simulator, SimulatorConfig
from tagger.state import StateStore
from tests.support.daemon import (
    RULES_DIR,
    applied_pairs,
    expected_pairs,
    repeated_applies,
    run_tagger,
    write_config,
)

RULE = """\
rules:
  - id: {id}
    description: x
    search: {{route: [inbound]}}
    tags: [Security/Phishing]
    match: {{field: subject, contains: invoice}}
"""


def test_a_tab_in_yaml_is_named_with_its_line_column_and_the_fix(tmp_path: Path) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(RULE.format(id="r1").replace("    tags:", "\ttags:"), encoding="utf-8")
    done = run_tagger("validate", str(path))
    assert done.returncode == exitcodes.USER_ERROR
    assert f"{path}:5:1: error: invalid YAML: a tab was found in the indentation" in done.stdout
    assert "replace the tab with spaces" in done.stdout
    # A tab after a list dash: named where it is, not as indentation.
    path.write_text("rules:\n  - id: a\n  -\tid: b\n", encoding="utf-8")
    later = run_tagger("validate", str(path))
    assert f"{path}:3:4: error: invalid YAML: a tab was found where YAML allows none" in (
        later.stdout
    )


def test_no_config_found_says_how_it_was_looked_for_and_the_ways_to_give_one(
    tmp_path: Path,
) -> None:
    missing = tmp_path / "etc" / "config.yaml"
    done = run_tagger("once", env={"TAGGER_CONFIG": str(missing)})
    assert done.returncode == exitcodes.USER_ERROR
    assert f"{missing}: error: no configuration file here (named by $TAGGER_CONFIG)" in (
        done.stderr
    )
    assert "-c FILE" in done.stderr and f"`tagger init {missing.parent}`" in done.stderr
    given = run_tagger("status", "-c", str(tmp_path / "nope.yaml"))
    assert "(named by -c)" in given.stderr


def test_a_bad_duration_is_echoed_and_a_duplicate_id_comes_with_the_schema_errors(
    tmp_path: Path,
) -> None:
    (tmp_path / "one.yaml").write_text(RULE.format(id="r1"), encoding="utf-8")
    second = RULE.format(id="r1").replace("    description: x\n", "    schedule: 5 minutes\n")
    (tmp_path / "two.yaml").write_text(second, encoding="utf-8")
    done = run_tagger("validate", str(tmp_path))
    assert done.returncode == exitcodes.USER_ERROR
    out = done.stdout
    # One pass: the missing key, the bad duration (with its value) and the duplicate id.
    assert "two.yaml:2:5: error: missing required key 'description'" in out
    assert "two.yaml:3:15: error: a duration is a number and a unit" in out
    assert "got '5 minutes' [rules[0].schedule]" in out
    assert "two.yaml:2:9: error: duplicate rule id 'r1'" in out and "one.yaml:2:9" in out


def test_mistyped_rule_ids_get_a_did_you_mean(tmp_path: Path) -> None:
    with Simulator(SimulatorConfig(seed=61, messages=20)) as sim:
        cfg = str(write_config(tmp_path, sim, rollout="audit-first"))
        for command in (["promote", "phishing-suspekt", "--yes"], ["resume", "phishing-suspekt"]):
            done = run_tagger(*command, "-c", cfg)
            assert done.returncode == exitcodes.USER_ERROR, done.stderr
            assert "unknown rule 'phishing-suspekt'" in done.stderr, command
            assert "did you mean 'phishing-suspect'?" in done.stderr, command
            assert "is not paused" not in done.stderr
        paused = run_tagger("pause", "phishing-suspekt", "-c", cfg)
        assert paused.returncode == exitcodes.USER_ERROR
        assert "did you mean 'phishing-suspect'?" in paused.stderr
        # A known rule that is not paused says so, and which ones are.
        idle = run_tagger("resume", "phishing-suspect", "-c", cfg)
        assert idle.returncode == exitcodes.FAILURE
        assert "rule 'phishing-suspect' is not paused (paused rules: none)" in idle.stderr
        neither = run_tagger("pause", "-c", cfg)
        assert neither.returncode == exitcodes.USER_ERROR
        assert "tagger pause RULE [--reason TEXT], or tagger pause --all" in neither.stderr


def test_pause_rule_stops_its_applies_until_resumed(tmp_path: Path) -> None:
    rule_id = "phishing-suspect"
    with Simulator(SimulatorConfig(seed=62, messages=150)) as sim:
        cfg = str(write_config(tmp_path, sim, rollout="enforce"))
        ruleset = load_rules([RULES_DIR])
        alone = expected_pairs(sim, RuleSet(rules=(ruleset.by_id[rule_id],)))
        tags = {tag for _, tag in alone}
        # What the paused rule applies with the whole rule set (priorities, stops).
        mine = {pair for pair in expected_pairs(sim, ruleset) if pair[1] in tags}
        assert mine
        done = run_tagger("pause", rule_id, "--reason", "checking a complaint", "-c", cfg)
        assert done.returncode == exitcodes.OK, done.stderr
        assert f"rule {rule_id!r} paused on 1 account (demo)" in done.stdout
        with StateStore.open(tmp_path / "state.db", lock=False, readonly=True) as store:
            (pause,) = store.pauses()
        assert (pause.rule_id, pause.reason, pause.kind) == (
            rule_id,
            "checking a complaint",
            "manual",
        )
        status = run_tagger("status", "-c", cfg)
        assert f"paused rules: {rule_id} (demo)" in status.stdout

        run_tagger("once", "-c", cfg)
        applied = applied_pairs(sim)
        assert applied and not applied & mine  # the others went on, the paused one did not
        assert run_tagger("resume", rule_id, "--yes", "-c", cfg).returncode == exitcodes.OK
        again = run_tagger("once", "-c", cfg)
        assert again.returncode == exitcodes.OK, again.stderr[-3000:]
        assert {p for p in applied_pairs(sim) if p[1] in tags} == mine
        assert repeated_applies(sim) == {}


def test_promoting_a_disabled_rule_says_it_is_disabled(tmp_path: Path) -> None:
    rules = tmp_path / "rules"
    rules.mkdir()
    text = RULE.format(id="quiet-rule").replace(
        "    description: x\n", "    description: x\n    enabled: false\n"
    )
    (rules / "r.yaml").write_text(text, encoding="utf-8")
    with Simulator(SimulatorConfig(seed=63, messages=5)) as sim:
        cfg = str(write_config(tmp_path, sim, rules=[rules / "*.yaml"], rollout="audit-first"))
        done = run_tagger("promote", "quiet-rule", "--yes", "-c", cfg)
    assert done.returncode == exitcodes.USER_ERROR
    assert "rule 'quiet-rule' is disabled (enabled: false): nothing to promote" in done.stderr
    assert "enable it and reload" in done.stderr
