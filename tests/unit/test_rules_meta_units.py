"""Rule metadata is read without changing the content hash."""

from __future__ import annotations

from pathlib import Path

import pytest

from tagger.cli.rulelist import Standing, find_config, rule_lines
from tagger.errors import UserError
from tagger.rules import check_rule_files, load_rules
from tests.support.config import MINIMAL, write_config
from tests.support.rules import metadata_rule_file

META = "    owner: secops@example.com\n    references: [https://wiki.example.com/p, CHG-1]\n"


def test_metadata_is_read_and_leaves_the_content_hash_alone(tmp_path: Path) -> None:
    plain = load_rules([metadata_rule_file(tmp_path, "", "plain.yaml")]).rules[0]
    dated = META + "    created: 2026-11-01\n    modified: 2026/11/20\n"
    (owned,) = load_rules([metadata_rule_file(tmp_path, dated)]).rules
    assert owned.meta.owner == "secops@example.com"
    assert owned.meta.references == ("https://wiki.example.com/p", "CHG-1")
    assert (owned.meta.created, owned.meta.modified) == ("2026-11-01", "2026-11-20")
    assert owned.content_hash == plain.content_hash


SIGMA = (
    "    status: experimental\n    level: high\n    author: J. Doe\n"
    "    falsepositives: [Partner newsletters, Forwarded invoices]\n"
)
OTHER_SIGMA = (
    "    status: deprecated\n    level: low\n    author: Someone Else\n"
    "    falsepositives: [Nothing known]\n"
)


def test_sigma_metadata_is_read_and_leaves_the_content_hash_alone(tmp_path: Path) -> None:
    plain = load_rules([metadata_rule_file(tmp_path, "", "plain.yaml")]).rules[0]
    (graded,) = load_rules([metadata_rule_file(tmp_path, SIGMA, "a.yaml")]).rules
    (other,) = load_rules([metadata_rule_file(tmp_path, OTHER_SIGMA, "b.yaml")]).rules
    assert (graded.meta.status, graded.meta.level) == ("experimental", "high")
    assert graded.meta.author == "J. Doe"
    assert graded.meta.falsepositives == ("Partner newsletters", "Forwarded invoices")
    assert other.meta.level == "low"
    # Changing any of it changes nothing the rule does: not its hash.
    assert graded.content_hash == other.content_hash == plain.content_hash
    # The same edit to what the rule does changes it (the test can fail).
    changed = SIGMA + "    priority: 7\n"
    (moved,) = load_rules([metadata_rule_file(tmp_path, changed, "c.yaml")]).rules
    assert moved.content_hash != plain.content_hash
    assert graded.meta.to_json() == {
        "author": "J. Doe",
        "status": "experimental",
        "level": "high",
        "falsepositives": ["Partner newsletters", "Forwarded invoices"],
    }
    assert graded.meta.lines() == [
        "level high, status experimental",
        "author: J. Doe",
        "false positive: Partner newsletters",
        "false positive: Forwarded invoices",
    ]


@pytest.mark.parametrize(
    ("extra", "line", "column", "words"),
    [
        (
            "    status: stabel\n",
            7,
            13,
            ["stable, test, experimental, deprecated, unsupported", "did you mean 'stable'"],
        ),
        ("    level: severe\n", 7, 12, ["informational, low, medium, high, critical"]),
        ("    level: High\n", 7, 12, ["did you mean 'high'"]),
        ("    author: 5\n", 7, 13, ["expected a string"]),
        ("    author: ''\n", 7, 13, ["rules[0].author"]),
        ("    falsepositives: newsletters\n", 7, 21, ["expected a list"]),
        ("    falsepositives: [3]\n", 7, 22, ["rules[0].falsepositives[0]"]),
    ],
)
def test_bad_sigma_metadata_is_a_located_error(
    tmp_path: Path, extra: str, line: int, column: int, words: list[str]
) -> None:
    path = metadata_rule_file(tmp_path, extra)
    ruleset, problems = check_rule_files([path])
    assert ruleset is None
    (problem,) = [p for p in problems if p.severity == "error"]
    assert (problem.file, problem.line, problem.column) == (str(path), line, column), problem
    text = str(problem)
    assert all(w in text for w in words), text


def test_the_listing_states_follow_rollout_promotions_and_pauses(tmp_path: Path) -> None:
    ruleset = load_rules([metadata_rule_file(tmp_path, SIGMA)])
    (rule,) = ruleset.rules
    unknown = rule_lines(ruleset, Standing())
    assert [line.state for line in unknown] == ["unknown"]
    waiting = rule_lines(ruleset, Standing(rollout="audit-first"))
    assert [line.state for line in waiting] == ["awaiting promotion"]
    promoted = Standing(rollout="audit-first", promoted=frozenset({(rule.id, rule.content_hash)}))
    assert [line.state for line in rule_lines(ruleset, promoted)] == ["enforcing"]
    assert [line.state for line in rule_lines(ruleset, Standing(rollout="enforce"))] == [
        "enforcing"
    ]
    paused = Standing(rollout="enforce", paused={rule.id: ("corp",)})
    (line,) = rule_lines(ruleset, paused)
    assert (line.state, line.paused_on) == ("paused", ("corp",))
    data = line.as_dict()
    assert data["level"] == "high" and data["paused_accounts"] == ["corp"]
    assert data["content_hash"] == rule.content_hash


def test_a_default_config_that_does_not_load_is_named_and_skipped(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    broken = tmp_path / "config.yaml"
    broken.write_text("accounts: [\n", encoding="utf-8")
    assert find_config(None, {}, default=broken) is None
    assert f"tagger: not using {broken}:" in capsys.readouterr().err
    assert find_config(None, {}, default=tmp_path / "absent.yaml") is None
    # A configuration the user named must load.
    with pytest.raises(UserError):
        find_config(str(broken), {}, default=tmp_path / "absent.yaml")
    with pytest.raises(UserError):
        find_config(None, {"TAGGER_CONFIG": str(broken)}, default=tmp_path / "absent.yaml")
    good = write_config(tmp_path, MINIMAL.replace("{env: TEST_SECRET}", "inline-secret"))
    found = find_config(None, {}, default=good)
    assert found is not None and found.accounts[0].name == "main"
