"""Per-account rule sets: ``accounts[].rules`` and ``rules_mode`` parsed, expanded and loaded."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tagger.errors import UserError
from tagger.rules.accountsets import check_account_rule_sets, load_account_rule_sets
from tests.support.config import load, one_problem, problems

TWO = """\
accounts:
  - name: acme
    region: uk
    credentials:
      client_id: acme-client
      client_secret: {env: TEST_SECRET}
    rules: [tenants/acme.yaml]
  - name: globex
    region: uk
    credentials:
      client_id: globex-client
      client_secret: {env: TEST_SECRET}
    rules: tenants/globex/
    rules_mode: replace
  - name: plain
    region: uk
    credentials:
      client_id: plain-client
      client_secret: {env: TEST_SECRET}
rules:
  - rules/*.yaml
"""

RULE = """\
  - id: {id}
    description: {id}
    match: {{field: subject, contains: "{word}"}}
    tags: [{tag}]
"""


def _rules(path: Path, *rules: tuple[str, str, str]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    body = "".join(RULE.format(id=i, word=w, tag=t) for i, w, t in rules)
    path.write_text("rules:\n" + body, encoding="utf-8")


def _tree(tmp_path: Path) -> None:
    _rules(tmp_path / "tenants" / "acme.yaml", ("acme-invoice", "invoice", "Finance"))
    _rules(tmp_path / "tenants" / "globex" / "g.yaml", ("globex-hr", "payroll", "HR"))


def _global(tmp_path: Path, *rules: tuple[str, str, str]) -> None:
    _rules(tmp_path / "rules" / "one.yaml", *rules)


def test_a_config_without_account_rules_is_unchanged(tmp_path: Path) -> None:
    config = load(
        tmp_path,
        TWO.replace("    rules: [tenants/acme.yaml]\n", "").replace(
            "    rules: tenants/globex/\n    rules_mode: replace\n", ""
        ),
    )
    assert not config.per_account_rules
    assert [a.rule_paths for a in config.accounts] == [(), (), ()]
    assert config.account_rule_paths("acme") == config.rule_paths
    assert config.every_rule_path == config.rule_paths


def test_account_rules_add_to_or_replace_the_top_level_ones(tmp_path: Path) -> None:
    _tree(tmp_path)
    config = load(tmp_path, TWO)
    top = tmp_path / "rules" / "one.yaml"
    acme = tmp_path / "tenants" / "acme.yaml"
    globex = tmp_path / "tenants" / "globex" / "g.yaml"
    assert config.account("acme").rules_mode == "add"
    assert config.account("globex").rules_mode == "replace"
    assert config.account_rule_paths("acme") == (top, acme)
    assert config.account_rule_paths("globex") == (globex,)
    assert config.account_rule_paths("plain") == (top,)
    assert config.every_rule_path == (top, acme, globex)


def test_each_account_gets_its_own_rule_set(tmp_path: Path) -> None:
    _tree(tmp_path)
    config = load(tmp_path, TWO)
    _global(tmp_path, ("global-spam", "viagra", "Spam"))
    sets = load_account_rule_sets(config)
    assert [r.id for r in sets.of("acme").rules] == ["acme-invoice", "global-spam"]
    assert [r.id for r in sets.of("globex").rules] == ["globex-hr"]
    assert [r.id for r in sets.of("plain").rules] == ["global-spam"]
    assert sets.of("plain") is sets.default
    assert sets.holding("global-spam") == ["acme", "plain"]
    assert sets.holding("globex-hr") == ["globex"]
    assert sets.all_ids() == {"acme-invoice", "global-spam", "globex-hr"}
    # A rule's identity is its definition: the same rule has the same hash in every set.
    assert (
        sets.of("acme").get("global-spam").content_hash  # type: ignore[union-attr]
        == sets.default.get("global-spam").content_hash  # type: ignore[union-attr]
    )


def test_a_missing_account_rule_path_is_located(tmp_path: Path) -> None:
    _tree(tmp_path)
    problem = one_problem(tmp_path, TWO.replace("tenants/acme.yaml", "tenants/nope.yaml"))
    assert problem.path == "accounts[0].rules[0]"
    assert (problem.line, problem.column) == (7, 13)
    assert "'tenants/nope.yaml' is not a rule file" in problem.message
    assert str(tmp_path / "tenants" / "nope.yaml") in problem.message


def test_an_unreadable_account_rule_file_is_located(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _tree(tmp_path)
    target = tmp_path / "tenants" / "acme.yaml"
    # Root reads every file: the permission check is made to answer as for another user.
    real = os.access
    monkeypatch.setattr(
        "tagger.config.rulepaths.os.access",
        lambda path, mode: False if Path(path) == target else real(path, mode),
    )
    problem = one_problem(tmp_path, TWO)
    assert problem.path == "accounts[0].rules[0]"
    assert problem.message == f"rule file {target} is not readable"
    assert "chmod" in problem.hint


def test_rules_mode_needs_rules_and_a_known_value(tmp_path: Path) -> None:
    _tree(tmp_path)
    text = TWO.replace("    rules: [tenants/acme.yaml]\n", "    rules_mode: replace\n")
    problem = one_problem(tmp_path, text)
    assert problem.path == "accounts[0].rules_mode"
    assert problem.message == "rules_mode needs the account's own rules"
    text = TWO.replace("rules_mode: replace", "rules_mode: instead")
    problem = one_problem(tmp_path, text)
    assert problem.path == "accounts[1].rules_mode"
    assert "add, replace" in problem.message


def test_bad_shapes_of_account_rules_are_located(tmp_path: Path) -> None:
    _tree(tmp_path)
    found = problems(tmp_path, TWO.replace("rules: [tenants/acme.yaml]", "rules: {paths: x}"))
    assert [p.path for p in found] == ["accounts[0].rules"]
    found = problems(tmp_path, TWO.replace("rules: [tenants/acme.yaml]", "rules: []"))
    assert [p.path for p in found] == ["accounts[0].rules"]
    found = problems(tmp_path, TWO.replace("rules: [tenants/acme.yaml]", "rules: [3]"))
    assert [p.path for p in found] == ["accounts[0].rules[0]"]


def test_a_rule_id_both_global_and_added_is_a_duplicate_at_both_places(tmp_path: Path) -> None:
    _tree(tmp_path)
    config = load(tmp_path, TWO)
    _global(tmp_path, ("acme-invoice", "bill", "Finance"))
    sets, found = check_account_rule_sets(config)
    assert sets is None
    errors = [p for p in found if p.severity == "error"]
    assert len(errors) == 1, [str(p) for p in found]
    error = errors[0]
    assert error.file == str(tmp_path / "tenants" / "acme.yaml")
    assert (error.line, error.path) == (2, "rules[0].id")
    assert error.message == "duplicate rule id 'acme-invoice' (rules of account acme)"
    assert error.hint == f"first defined at {tmp_path / 'rules' / 'one.yaml'}:2:9"
    with pytest.raises(UserError):
        load_account_rule_sets(config)


def test_the_same_id_replacing_the_global_rules_is_no_duplicate(tmp_path: Path) -> None:
    _tree(tmp_path)
    config = load(tmp_path, TWO)
    _global(tmp_path, ("globex-hr", "bill", "Finance"))
    sets = load_account_rule_sets(config)
    assert sets.holding("globex-hr") == ["acme", "globex", "plain"]
    assert sets.of("globex").get("globex-hr") != sets.default.get("globex-hr")


def test_an_error_in_a_shared_account_file_names_every_account_using_it(tmp_path: Path) -> None:
    _tree(tmp_path)
    (tmp_path / "tenants" / "acme.yaml").write_text("rules:\n  - id: broken\n", encoding="utf-8")
    text = TWO.replace("tenants/globex/\n    rules_mode: replace", "[tenants/acme.yaml]")
    config = load(tmp_path, text)
    _global(tmp_path, ("global-spam", "viagra", "Spam"))
    sets, found = check_account_rule_sets(config)
    assert sets is None
    assert found and all("(rules of accounts acme, globex)" in p.message for p in found)
    assert {p.file for p in found} == {str(tmp_path / "tenants" / "acme.yaml")}


def test_example_config_documents_account_rules() -> None:
    text = (Path(__file__).resolve().parents[2] / "config.example.yaml").read_text("utf-8")
    assert "#   rules: [tenants/acme/*.yaml]" in text
    assert "#   rules_mode: replace" in text
