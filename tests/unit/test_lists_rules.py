"""``in_list`` in rules: each kind evaluated, every bad reference located, explanations, hashes.

Rules and lists go through the real loader (``check_rule_files`` with the
lists a config declares) and the config through ``load_config``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tagger.audit.explanation import explanation_lines, why
from tagger.config.lists import ListKind, ListSpec
from tagger.errors import Problem
from tagger.rails.rollout import RuleIdentity, awaiting_promotion
from tagger.rules import RuleSet, check_rule_files, evaluate, explain_message, prefilter, render
from tests.support.config import MINIMAL, load, problems
from tests.support.rules import message, rule, write_rules


def lst(tmp: Path, name: str, kind: ListKind, text: str, **kw: Any) -> ListSpec:
    path = tmp / f"{name}.txt"
    path.write_text(text, encoding="utf-8")
    return ListSpec(name, kind, path, declared_at=(str(tmp / "config.yaml"), 3, 11), **kw)


def load_with(
    tmp: Path, rules: list[dict[str, Any]], lists: list[ListSpec]
) -> tuple[RuleSet | None, list[Problem]]:
    return check_rule_files([write_rules(tmp, rules)], lists)


def ruleset(tmp: Path, rules: list[dict[str, Any]], lists: list[ListSpec]) -> RuleSet:
    loaded, found = load_with(tmp, rules, lists)
    assert loaded is not None, [str(p) for p in found]
    return loaded


def matched(rs: RuleSet, **summary: Any) -> set[str]:
    return {d.rule_id for d in evaluate(rs, message({}, route="inbound", **summary))}


def sender(address: str) -> dict[str, Any]:
    return {"fromEnv": {"emailAddress": address}}


def test_each_kind_of_list_decides_its_rule(tmp_path: Path) -> None:
    lists = [
        lst(tmp_path, "newsletters", "domains", "news.example.com\nmailer.shop.net\n"),
        lst(tmp_path, "vips", "addresses", "CEO@example.com\ncfo@example.com\n"),
        lst(tmp_path, "subjects", "strings", "Quarterly report\n"),
        lst(tmp_path, "patterns", "regexes", "invoice\\s+\\d+\n^\\[ext\\]\n"),
    ]
    rs = ruleset(
        tmp_path,
        [
            rule("news", {"field": "sender.domain", "in_list": "newsletters"}),
            rule("news-address", {"field": "sender.address", "in_list": "newsletters"}),
            rule("vip", {"field": "recipients.address", "in_list": "vips"}),
            rule("all-vip", {"field": "recipients.address", "in_list": "vips", "elements": "all"}),
            rule("report", {"field": "subject", "in_list": "subjects"}),
            rule("pattern", {"field": "subject", "in_list": "patterns"}),
        ],
        lists,
    )
    to = [{"emailAddress": "ceo@example.com"}, {"emailAddress": "bob@example.com"}]
    assert matched(rs, **sender("a@eu.news.example.com"), to=to) == {"news", "news-address", "vip"}
    assert matched(rs, **sender("a@badnews.example.com"), to=to[:1]) == {"vip", "all-vip"}
    assert matched(rs, subject="QUARTERLY REPORT") == {"report"}
    assert matched(rs, subject="Quarterly report 2026") == set()
    assert matched(rs, subject="your Invoice 4711") == {"pattern"}
    assert matched(rs, subject="[EXT] hello") == {"pattern"}
    assert matched(rs, subject="re: [EXT] hello") == set()


def test_a_list_on_a_search_level_field_needs_no_message_info(tmp_path: Path) -> None:
    lists = [lst(tmp_path, "bad", "domains", "evil.example\n")]
    rs = ruleset(tmp_path, [rule("bad", {"field": "sender.domain", "in_list": "bad"})], lists)
    (bad,) = rs.rules
    assert not bad.needs_info
    summary = message(None, route="inbound", **sender("x@mx.evil.example")).summary
    assert prefilter(bad, summary) is True


def test_case_sensitive_strings_list(tmp_path: Path) -> None:
    lists = [lst(tmp_path, "codes", "strings", "ABC-1\n", case_sensitive=True)]
    rs = ruleset(tmp_path, [rule("code", {"field": "subject", "in_list": "codes"})], lists)
    assert matched(rs, subject="ABC-1") == {"code"}
    assert matched(rs, subject="abc-1") == set()


def test_explain_names_the_list_and_the_entry_that_matched(tmp_path: Path) -> None:
    lists = [
        lst(tmp_path, "newsletters", "domains", "# senders\nexample.org\nnews.example.com\n"),
        lst(tmp_path, "vips", "addresses", "ceo@example.com\n"),
    ]
    rs = ruleset(
        tmp_path,
        [
            rule(
                "news",
                {
                    "all": [
                        {"field": "sender.domain", "in_list": "newsletters"},
                        {"not": {"field": "recipients.address", "in_list": "vips"}},
                    ]
                },
            )
        ],
        lists,
    )
    msg = message(
        {},
        route="inbound",
        to=[{"emailAddress": "bob@example.com"}, {"emailAddress": "CEO@example.com"}],
        **sender("promo@eu.news.example.com"),
    )
    (trace,) = explain_message(rs, msg)
    text = render(trace)
    where = f"{tmp_path / 'newsletters.txt'}:3"
    assert f"(matched: list newsletters, entry 'news.example.com' ({where}))" in text
    vips = f"{tmp_path / 'vips.txt'}:1"
    assert f"(matched: 'ceo@example.com': list vips, entry 'ceo@example.com' ({vips}))" in text
    leaf = trace.to_dict()["match"]["children"][0]
    assert leaf["matched"] == f"list newsletters, entry 'news.example.com' ({where})"
    # Read back from an audit entry: the HTML report, promote's sample and the CSV say it too.
    stored = trace.to_dict()
    assert any("(matched: list newsletters, entry" in line for line in explanation_lines(stored))
    assert f"(matched: list newsletters, entry 'news.example.com' ({where}))" in why(stored)
    # A test that failed names no entry.
    no_match = message({}, route="inbound", **sender("a@example.net"))
    (trace,) = explain_message(rs, no_match)
    assert "matched:" not in render(trace)


def located(found: list[Problem], fragment: str) -> Problem:
    hits = [p for p in found if fragment in p.message]
    assert len(hits) == 1, [str(p) for p in found]
    return hits[0]


def test_an_unknown_list_is_located_at_the_rule_with_did_you_mean(tmp_path: Path) -> None:
    lists = [lst(tmp_path, "newsletters", "domains", "example.com\n")]
    loaded, found = load_with(
        tmp_path, [rule("r", {"field": "sender.domain", "in_list": "newsleters"})], lists
    )
    assert loaded is None
    problem = located(found, "unknown list 'newsleters'")
    assert (problem.file, problem.line) == (str(tmp_path / "r.yaml"), 11)
    assert problem.path == "rules[0].match.in_list"
    assert problem.hint == "did you mean 'newsletters'?"
    _, found = load_with(tmp_path, [rule("r", {"field": "subject", "in_list": "zzz"})], lists)
    assert located(found, "unknown list 'zzz'").hint == "declared lists: newsletters"


def test_without_a_configuration_the_error_says_how_to_give_one(tmp_path: Path) -> None:
    _, found = load_with(tmp_path, [rule("r", {"field": "subject", "in_list": "vips"})], [])
    problem = located(found, "unknown list 'vips': no lists are declared")
    assert "-c FILE (or $TAGGER_CONFIG" in problem.hint and "'lists:'" in problem.hint


def test_a_list_of_the_wrong_kind_for_the_field_is_located(tmp_path: Path) -> None:
    lists = [
        lst(tmp_path, "vips", "addresses", "ceo@example.com\n"),
        lst(tmp_path, "patterns", "regexes", "^5$\n"),
        lst(tmp_path, "partners", "domains", "example.com\n"),
    ]
    rules = [
        rule("a", {"field": "sender.domain", "in_list": "vips"}),
        rule("b", {"field": "spam.score", "in_list": "patterns"}),
        rule("c", {"field": "subject", "in_list": "partners"}),
    ]
    loaded, found = load_with(tmp_path, rules, lists)
    assert loaded is None
    wrong = located(found, "list 'vips' holds addresses, which cannot test sender.domain")
    assert "sender.address" in wrong.hint and wrong.path == "rules[0].match.in_list"
    numeric = located(found, "list 'patterns' cannot test spam.score (number)")
    assert "in_list tests text, address and domain fields" in numeric.message
    assert numeric.hint.startswith("use one of: equals, in, gt")
    text = located(found, "list 'partners' holds domains, which cannot test subject (text)")
    assert "sender.domain" in text.hint


def test_case_sensitive_on_the_test_is_refused_with_where_it_belongs(tmp_path: Path) -> None:
    lists = [lst(tmp_path, "codes", "strings", "x\n")]
    cond = {"field": "subject", "in_list": "codes", "case_sensitive": True}
    _, found = load_with(tmp_path, [rule("r", cond)], lists)
    problem = located(found, "'case_sensitive' belongs to the list")
    assert "under 'lists:'" in problem.hint


def test_in_list_takes_one_name(tmp_path: Path) -> None:
    lists = [lst(tmp_path, "codes", "strings", "x\n")]
    _, found = load_with(
        tmp_path, [rule("r", {"field": "subject", "in_list": ["codes", "more"]})], lists
    )
    assert any("in_list" in p.path for p in found), [str(p) for p in found]


def test_a_broken_list_is_reported_once_not_again_at_each_rule(tmp_path: Path) -> None:
    lists = [lst(tmp_path, "vips", "addresses", "ceo@example.com\nnot an address\n")]
    rules = [
        rule("a", {"field": "sender.address", "in_list": "vips"}),
        rule("b", {"field": "from.address", "in_list": "vips"}),
    ]
    loaded, found = load_with(tmp_path, rules, lists)
    assert loaded is None
    assert [(p.file, p.line) for p in found] == [(str(tmp_path / "vips.txt"), 2)]


def test_list_problems_come_first_in_declaration_order(tmp_path: Path) -> None:
    lists = [
        lst(tmp_path, "b", "domains", "ok.com\n\nbad@x.com\n"),
        lst(tmp_path, "a", "domains", "bad@x.com\n"),
    ]
    _, found = load_with(tmp_path, [rule("r", {"field": "subject", "in_list": "zz"})], lists)
    where = [(Path(p.file).name, p.line) for p in found]
    assert where == [("b.txt", 3), ("a.txt", 1), ("r.yaml", 11)]


def hash_of(tmp: Path, lists: list[ListSpec], cond: dict[str, Any] | None = None) -> str:
    data = rule("r", cond or {"field": "sender.domain", "in_list": "p"})
    (only,) = ruleset(tmp, [data], lists).rules
    return only.content_hash


def test_a_list_change_changes_the_hash_of_each_rule_using_it(tmp_path: Path) -> None:
    base = hash_of(tmp_path, [lst(tmp_path, "p", "domains", "a.com\nb.com\n")])
    # Comments, blank lines, order and case are not what the list matches.
    same = hash_of(tmp_path, [lst(tmp_path, "p", "domains", "# kept by IT\nB.COM\n\na.com\n")])
    assert same == base
    changed = hash_of(tmp_path, [lst(tmp_path, "p", "domains", "a.com\nb.com\nc.com\n")])
    assert changed != base
    # Under audit-first the promoted rule awaits promotion again.
    promoted = {("r", base)}
    assert awaiting_promotion([RuleIdentity("r", base, "enforce")], "audit-first", promoted) == []
    assert awaiting_promotion([RuleIdentity("r", changed, "enforce")], "audit-first", promoted) == [
        "r"
    ]


def test_hash_false_keeps_the_rule_promoted_when_entries_change(tmp_path: Path) -> None:
    feed = hash_of(tmp_path, [lst(tmp_path, "p", "domains", "a.com\n", hash=False)])
    later = hash_of(tmp_path, [lst(tmp_path, "p", "domains", "z.com\ny.com\n", hash=False)])
    assert later == feed
    # Opting in or out, or changing the list's kind, is a change to review.
    assert hash_of(tmp_path, [lst(tmp_path, "p", "domains", "a.com\n")]) != feed
    assert hash_of(tmp_path, [lst(tmp_path, "p", "strings", "a.com\n", hash=False)]) != feed


def test_lists_change_nothing_for_rules_that_do_not_use_them(tmp_path: Path) -> None:
    cond = {"field": "subject", "contains": "invoice"}
    without = hash_of(tmp_path, [], cond)
    with_lists = hash_of(tmp_path, [lst(tmp_path, "p", "domains", "a.com\n")], cond)
    assert with_lists == without


def test_lists_in_unless_count_too(tmp_path: Path) -> None:
    def unless_hash(text: str) -> str:
        data = rule("r", {"field": "subject", "contains": "x"})
        data["unless"] = {"field": "sender.domain", "in_list": "p"}
        (only,) = ruleset(tmp_path, [data], [lst(tmp_path, "p", "domains", text)]).rules
        return only.content_hash

    assert unless_hash("a.com\n") != unless_hash("b.com\n")


def test_the_config_declares_lists_with_paths_relative_to_it(tmp_path: Path) -> None:
    text = MINIMAL + (
        "lists:\n"
        "  newsletters: {kind: domains, path: lists/news.txt}\n"
        "  feed.bad-1:\n"
        "    kind: regexes\n"
        "    path: /var/feed.txt\n"
        "    hash: false\n"
        "    case_sensitive: true\n"
        "    description: daily feed\n"
    )
    config = load(tmp_path, text)
    news, feed = config.lists
    assert (news.name, news.kind, news.path, news.hash) == (
        "newsletters",
        "domains",
        tmp_path / "lists/news.txt",
        True,
    )
    assert news.declared_at == (str(tmp_path / "config.yaml"), 10, 38)
    assert (feed.kind, str(feed.path), feed.hash, feed.case_sensitive) == (
        "regexes",
        "/var/feed.txt",
        False,
        True,
    )


def test_bad_list_declarations_are_located_in_the_config(tmp_path: Path) -> None:
    text = MINIMAL + (
        "lists:\n"
        "  a: {kind: domain, path: a.txt}\n"
        "  b: {kind: strings}\n"
        "  c: {kind: strings, path: c.txt, hashed: false}\n"
        "  -bad: {kind: strings, path: d.txt}\n"
    )
    found = problems(tmp_path, text)
    by_line = {p.line: p for p in found}
    assert set(by_line) == {10, 11, 12, 13}, [str(p) for p in found]
    assert "domains" in str(by_line[10])
    assert "path" in by_line[11].message
    assert "hashed" in str(by_line[12]) and "hash" in by_line[12].hint
    assert "-bad" in str(by_line[13])
