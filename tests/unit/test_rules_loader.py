"""The loader: shipped rules, ordering, hashes, compiled attributes, tags, errors."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from tagger.errors import UserError
from tagger.mimecast.criteria import SearchCriteria
from tagger.mimecast.models import SmartTag
from tagger.rules import check_rule_files, check_tags, load_rules, resolve_tags
from tagger.rules.examples import run_examples
from tests.support.rules import RULES_DIR, rule, ruleset_of, write_rules


def test_shipped_rules_are_valid_and_their_examples_pass() -> None:
    ruleset = load_rules([RULES_DIR])
    assert ruleset.warnings == ()
    assert len(ruleset.all_rules()) >= 6
    results = run_examples(ruleset)
    assert len(results) >= 12
    assert [r.label for r in results if not r.passed] == []
    # Both outcomes are exercised: matches and non-matches.
    assert {bool(r.got) for r in results} == {True, False}
    for r in ruleset.all_rules():
        assert r.examples, f"{r.id} has no examples"


def test_compiled_attributes(tmp_path: Path) -> None:
    data = rule(
        "r",
        {"field": "subject", "contains": "x"},
        priority=7,
        stop=True,
        mode="audit",
        schedule="15m",
    )
    data["search"] = {
        "route": ["outbound", "inbound"],
        "status": ["archived"],
        "attachments": True,
        "from": "example.com",
        "senderIP": "192.0.2.1",
        "lookback": "1h30m",
    }
    only = ruleset_of(tmp_path, [data]).rules[0]
    assert (only.id, only.mode, only.priority, only.stop) == ("r", "audit", 7, True)
    assert only.tags == ("Test/r",)
    assert only.lookback == timedelta(minutes=90)
    assert only.schedule == timedelta(minutes=15)
    assert only.needs_info is False
    assert only.criteria == SearchCriteria(
        routes=("inbound", "outbound"),
        statuses=("archived",),
        attachments=True,
        from_="example.com",
        sender_ip="192.0.2.1",
    )


def test_content_hashes(tmp_path: Path) -> None:
    base = [
        rule("a", {"field": "subject", "contains": "x"}),
        rule("b", {"field": "greymail", "equals": True}),
    ]
    first = ruleset_of(tmp_path, base)
    again = ruleset_of(tmp_path, base)
    assert first.content_hash == again.content_hash
    changed = [dict(base[0], match={"field": "subject", "contains": "y"}), base[1]]
    second = ruleset_of(tmp_path, changed)
    assert second.content_hash != first.content_hash
    assert second.rules[1].content_hash == first.rules[1].content_hash  # "b" is unchanged
    assert second.rules[0].content_hash != first.rules[0].content_hash
    # A description does not change what a rule does, so it does not change the hash.
    reworded = [dict(base[0], description="other words"), base[1]]
    assert ruleset_of(tmp_path, reworded).content_hash == first.content_hash


def test_duplicate_ids_across_files(tmp_path: Path) -> None:
    write_rules(tmp_path, [rule("same", {"field": "greymail", "equals": True})], "a.yaml")
    write_rules(tmp_path, [rule("same", {"field": "greymail", "equals": False})], "b.yaml")
    with pytest.raises(UserError) as caught:
        load_rules([tmp_path])
    [problem] = caught.value.problems
    assert problem.file.endswith("b.yaml") and problem.line == 2
    assert problem.message == "duplicate rule id 'same'"
    assert problem.hint.startswith("first defined at ") and "a.yaml:2:7" in problem.hint


def test_missing_paths_and_empty_directories(tmp_path: Path) -> None:
    _, problems = check_rule_files([tmp_path / "nope.yaml"])
    assert [p.message for p in problems] == ["no such file or directory"]
    _, problems = check_rule_files([tmp_path])
    assert problems[0].message.startswith("no rule files (*.yaml) found in")


def test_warnings_are_kept_on_the_ruleset(tmp_path: Path) -> None:
    everything = {"id": "all", "description": "x", "tags": ["T"]}
    ruleset = ruleset_of(tmp_path, [everything])
    assert [w.severity for w in ruleset.warnings] == ["warning"]
    assert "it would tag all mail" in ruleset.warnings[0].message


TAGS = [
    SmartTag("1", name="Phishing", path="Security/Phishing"),
    SmartTag("2", name="Bulk", path="Mail/Bulk"),
    SmartTag("3", name="Review", path="Legal/Review"),
    SmartTag("4", name="Review", path="Finance/Review"),
]


def test_check_and_resolve_tags(tmp_path: Path) -> None:
    data = rule("r", {"field": "greymail", "equals": True})
    data["tags"] = ["Security/Phishing", "bulk", "security/phishing", "Review", "Securty/Phishing"]
    ruleset = ruleset_of(tmp_path, [data])
    problems = check_tags(ruleset, TAGS)
    assert [(p.path, p.message, p.hint) for p in problems] == [
        (
            "rules[0].tags[3]",
            "tag name 'Review' is ambiguous: write one of the paths Finance/Review, Legal/Review",
            "",
        ),
        (
            "rules[0].tags[4]",
            "the account has no Smart Tag 'Securty/Phishing'",
            "did you mean 'Security/Phishing'?; tagger never creates Smart Tags: create it in"
            " the Mimecast Administration Console first (then reload), or use one the account"
            " has: " + ", ".join(sorted(t.path for t in TAGS)),
        ),
    ]
    assert all(p.file.endswith("r.yaml") and p.line > 0 and p.column > 0 for p in problems)
    resolved = resolve_tags(ruleset, TAGS)
    assert {ref: tag.id for ref, tag in resolved.items()} == {
        "Security/Phishing": "1",
        "bulk": "2",
        "security/phishing": "1",
    }


def test_shipped_rule_tags_resolve_against_a_matching_account() -> None:
    ruleset = load_rules([RULES_DIR])
    paths = {t for r in ruleset.all_rules() for t in r.tags}
    known = [SmartTag(str(i), name=p.rsplit("/", 1)[-1], path=p) for i, p in enumerate(paths)]
    assert check_tags(ruleset, known) == []
    assert len(check_tags(ruleset, known[1:])) >= 1
