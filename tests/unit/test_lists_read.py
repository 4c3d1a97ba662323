"""Shared list files: each kind read and matched, comments, digests, and every bad input located."""

from __future__ import annotations

import os
import random
import string
from pathlib import Path
from typing import Any

import pytest

from tagger.config.lists import ListKind, ListSpec
from tagger.rules.lists_match import REGEX_CHUNK, DomainMatcher, RegexMatcher
from tagger.rules.lists_read import MAX_PROBLEMS_PER_LIST, SharedList, read_list, read_lists


def spec(tmp: Path, kind: ListKind, text: str | bytes, name: str = "l", **kw: Any) -> ListSpec:
    path = tmp / f"{name}.txt"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text, encoding="utf-8")
    return ListSpec(name, kind, path, declared_at=("config.yaml", 7, 11), **kw)


def read_ok(s: ListSpec) -> SharedList:
    shared, problems = read_list(s)
    assert shared is not None, [str(p) for p in problems]
    assert [p for p in problems if p.severity == "error"] == []
    return shared


def found(shared: SharedList, value: str) -> str | None:
    index = shared.matcher.find(value)
    return None if index is None else shared.entries[index]


def test_domains_match_the_domain_and_its_subdomains_only(tmp_path: Path) -> None:
    text = "# partners\nExample.COM.\n\n  globex.net   # since 2024\nco.uk\n"
    shared = read_ok(spec(tmp_path, "domains", text))
    assert shared.entries == ("Example.COM.", "globex.net", "co.uk")
    assert tuple(shared.lines) == (2, 4, 5)
    assert found(shared, "example.com") == "Example.COM."
    assert found(shared, "mail.eu.example.com") == "Example.COM."
    assert found(shared, "alice@mail.example.com") == "Example.COM."
    assert found(shared, "example.com.") == "Example.COM."
    assert found(shared, "fabrikam.co.uk") == "co.uk"
    assert found(shared, "badexample.com") is None
    assert found(shared, "example.com.evil.net") is None
    assert found(shared, "globex.network") is None
    assert found(shared, "") is None


def test_internationalised_domains_match_in_both_forms(tmp_path: Path) -> None:
    shared = read_ok(spec(tmp_path, "domains", "Bücher.de\nxn--mnchen-3ya.example\n"))
    assert found(shared, "shop.bücher.de") == "Bücher.de"
    assert found(shared, "shop.xn--bcher-kva.de") == "Bücher.de"
    assert found(shared, "münchen.example") == "xn--mnchen-3ya.example"
    assert found(shared, "buecher.de") is None


def test_a_domain_list_walks_suffixes_instead_of_scanning() -> None:
    # 100,000 entries: a lookup costs one probe per label, whatever the size.
    matcher = DomainMatcher([f"d{i}.example.net" for i in range(100_000)])
    assert matcher.find("a.b.d99999.example.net") == 99_999
    assert matcher.find("d100000.example.net") is None


def test_addresses_match_whole_addresses_ignoring_case(tmp_path: Path) -> None:
    shared = read_ok(spec(tmp_path, "addresses", "CEO@Example.com\ncfo@example.com # finance\n"))
    assert found(shared, "ceo@example.com") == "CEO@Example.com"
    assert found(shared, "cfo@example.com") == "cfo@example.com"
    assert found(shared, "xceo@example.com") is None
    assert found(shared, "ceo@mail.example.com") is None
    assert shared.reads_folded


def test_strings_keep_blanks_and_hashes_inside_an_entry(tmp_path: Path) -> None:
    text = "# subjects\nInvoice #4711\n  Quarterly report  \n"
    shared = read_ok(spec(tmp_path, "strings", text))
    assert shared.entries == ("Invoice #4711", "Quarterly report")
    assert found(shared, "invoice #4711") == "Invoice #4711"
    assert found(shared, "Invoice") is None
    sensitive = read_ok(spec(tmp_path, "strings", text, name="s", case_sensitive=True))
    assert not sensitive.reads_folded
    assert found(sensitive, "Invoice #4711") == "Invoice #4711"
    assert found(sensitive, "invoice #4711") is None


def test_regexes_search_anywhere_and_ignore_case_unless_told(tmp_path: Path) -> None:
    text = "invoice\\s+\\d+\n^urgent:\n\\#ticket\n"
    shared = read_ok(spec(tmp_path, "regexes", text))
    assert not shared.reads_folded  # RE2 ignores case itself: values are read as they are
    assert found(shared, "Your INVOICE  4711 is due") == "invoice\\s+\\d+"
    assert found(shared, "URGENT: pay") == "^urgent:"
    assert found(shared, "re: urgent: pay") is None
    assert found(shared, "see #ticket 5") == "\\#ticket"
    sensitive = read_ok(spec(tmp_path, "regexes", text, name="s", case_sensitive=True))
    assert found(sensitive, "URGENT: pay") is None


def test_many_regexes_are_compiled_into_sets_that_name_the_first_matching_entry() -> None:
    from tagger.rules.matchers import compile_regex

    count = REGEX_CHUNK * 2 + 5
    patterns = [compile_regex(f"^code-{i}$", case_sensitive=False) for i in range(count)]
    patterns.append(compile_regex("code", case_sensitive=False))
    matcher = RegexMatcher(patterns, case_sensitive=False)
    assert len(matcher._sets) == 3
    assert matcher.find("CODE-2004") == 2004
    assert matcher.find("code-1") == 1
    assert matcher.find("a code") == count  # only the last, unanchored one
    assert matcher.find("nothing") is None


def test_a_long_regex_list_shares_one_memory_bound_between_its_sets() -> None:
    from tagger.rules.lists_match import LIST_REGEX_MEMORY, set_memory

    assert set_memory(10) == 64 << 20
    assert set_memory(REGEX_CHUNK * 4) == 64 << 20
    assert set_memory(REGEX_CHUNK * 20) == LIST_REGEX_MEMORY // 20
    assert set_memory(REGEX_CHUNK * 1000) == 8 << 20


def test_a_regex_set_still_finds_a_match_after_a_long_hostile_value() -> None:
    from tagger.rules.matchers import compile_regex

    # Many states for the automaton to build: varied input against many patterns.
    rng = random.Random(5)
    patterns = [
        compile_regex(
            f"[a-z]{{{rng.randint(2, 6)}}}{rng.randint(0, 9_999)}z[0-9]+q", case_sensitive=False
        )
        for _ in range(3000)
    ]
    patterns.append(compile_regex("needle-[0-9]{3}$", case_sensitive=False))
    matcher = RegexMatcher(patterns, case_sensitive=False)
    noise = "".join(rng.choice(string.printable) for _ in range(60_000))
    assert matcher.find(noise + " NEEDLE-042") == 3000
    assert matcher.find(noise) is None


def test_digest_ignores_comments_order_duplicates_and_case_but_not_entries(tmp_path: Path) -> None:
    base = read_ok(spec(tmp_path, "domains", "a.com\nb.com\n")).digest
    same = read_ok(spec(tmp_path, "domains", "# new comment\nB.com\n\na.com\na.com # again\n"))
    assert same.digest == base
    assert read_ok(spec(tmp_path, "domains", "a.com\nb.com\nc.com\n")).digest != base
    assert read_ok(spec(tmp_path, "strings", "a.com\nb.com\n")).digest != base


def test_an_empty_list_is_a_warning_at_its_declaration(tmp_path: Path) -> None:
    shared, problems = read_list(spec(tmp_path, "domains", "# nothing yet\n\n"))
    assert shared is not None and shared.matcher.find("example.com") is None
    (problem,) = problems
    assert problem.severity == "warning"
    assert (problem.file, problem.line, problem.column) == ("config.yaml", 7, 11)
    assert "no entries" in problem.message


@pytest.mark.parametrize(
    ("kind", "line", "column", "message", "hint"),
    [
        ("domains", "*.example.com", 1, "is not a domain", "write 'example.com'"),
        ("domains", ".example.com", 1, "is not a domain", "subdomains always match"),
        ("domains", "bob@example.com", 4, "is an address, not a domain", "'example.com'"),
        ("domains", "https://example.com/x", 6, "is a URL, not a domain", "'example.com'"),
        ("domains", "example..com", 9, "is not a domain", "one domain per line"),
        ("domains", "example.com other.com", 12, "is not a domain", ""),
        ("addresses", "Bob <bob@example.com>", 5, "is not a bare address", "'bob@example.com'"),
        ("addresses", "example.com", 1, "is not an address (no '@')", "domains list"),
        ("addresses", "bob@exa mple.com", 8, "is not an address", ""),
        ("addresses", "@example.com", 1, "is not an address", ""),
        ("regexes", "wire (transfer", 6, "does not compile: missing )", "RE2"),
        ("regexes", "a)b", 2, "does not compile: unexpected )", "RE2"),
        ("regexes", "ab[c", 3, "does not compile: missing ]", "RE2"),
        ("regexes", "a**", 2, "bad repetition operator", "RE2"),
        ("regexes", "pay(?=now)", 4, "RE2 does not support", "RE2"),
        ("regexes", "(a)\\1", 4, "RE2 does not support", "RE2"),
        ("regexes", "abc\\", 4, "trailing \\", "RE2"),
    ],
)
def test_a_malformed_entry_is_reported_at_its_line_and_column(
    tmp_path: Path, kind: ListKind, line: str, column: int, message: str, hint: str
) -> None:
    # The bad entry is on line 3, indented by two blanks.
    s = spec(tmp_path, kind, f"# list\nok{'@x.com' if kind == 'addresses' else '.com'}\n  {line}\n")
    shared, problems = read_list(s)
    assert shared is None
    (problem,) = problems
    assert (problem.file, problem.line, problem.column) == (str(s.path), 3, column + 2)
    assert message in problem.message and f"list 'l' ({kind})" in problem.message
    assert hint in problem.hint


def test_at_most_twenty_problems_per_list_then_a_count(tmp_path: Path) -> None:
    text = "".join(f"user{i}@example.com\n" for i in range(50))
    shared, problems = read_list(spec(tmp_path, "domains", text))
    assert shared is None
    assert len(problems) == MAX_PROBLEMS_PER_LIST + 1
    assert "30 more malformed entries not shown (50 in all)" in problems[-1].message
    assert "check lists.l.kind" in problems[-1].hint


def test_a_missing_file_is_reported_at_the_lists_path_in_the_config(tmp_path: Path) -> None:
    s = ListSpec("vips", "addresses", tmp_path / "nope.txt", declared_at=("config.yaml", 9, 13))
    catalog, problems = read_lists([s])
    assert catalog.lists == {} and catalog.broken == {"vips"}
    (problem,) = problems
    assert (problem.file, problem.line, problem.column) == ("config.yaml", 9, 13)
    assert problem.path == "lists.vips.path"
    assert "cannot read" in problem.message and "No such file" in problem.message
    assert "create it" in problem.hint


def test_a_directory_or_a_device_is_not_a_list_file(tmp_path: Path) -> None:
    s = ListSpec("vips", "addresses", tmp_path, declared_at=("config.yaml", 9, 13))
    _, problems = read_lists([s])
    assert f"{tmp_path} is a directory" in problems[0].message
    assert (problems[0].line, problems[0].path) == (9, "lists.vips.path")
    # Never read endlessly from a device.
    device = ListSpec("vips", "addresses", Path("/dev/zero"), declared_at=("c.yaml", 9, 13))
    _, problems = read_lists([device])
    assert "/dev/zero is not a regular file" in problems[0].message


def test_only_line_feeds_end_lines(tmp_path: Path) -> None:
    shared = read_ok(spec(tmp_path, "strings", "a\x0cb\nc\u2028d\n\nlast\n"))
    assert shared.entries == ("a\x0cb", "c\u2028d", "last")
    assert tuple(shared.lines) == (1, 2, 4)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file")
def test_an_unreadable_file_says_who_must_be_able_to_read_it(tmp_path: Path) -> None:
    s = spec(tmp_path, "domains", "example.com\n")
    s.path.chmod(0)
    _, problems = read_lists([s])
    assert "Permission denied" in problems[0].message
    assert "let the user running tagger read it" in problems[0].hint


def test_a_file_that_is_not_utf8_is_located_at_the_bad_byte(tmp_path: Path) -> None:
    s = spec(tmp_path, "strings", b"caf\xc3\xa9\nna\xefve\n")
    shared, problems = read_list(s)
    assert shared is None
    (problem,) = problems
    assert (problem.line, problem.column) == (2, 3)
    assert "not UTF-8" in problem.message


def test_a_byte_order_mark_and_crlf_line_ends_are_accepted(tmp_path: Path) -> None:
    shared = read_ok(spec(tmp_path, "domains", b"\xef\xbb\xbfexample.com\r\nglobex.net\r\n"))
    assert shared.entries == ("example.com", "globex.net")


def test_case_sensitive_on_a_domains_list_is_refused_in_the_config(tmp_path: Path) -> None:
    from tagger.config.lists import build_lists
    from tagger.yamldoc.problems import Problems
    from tagger.yamldoc.source import load_yaml

    doc = load_yaml("lists:\n  d: {kind: domains, path: d.txt, case_sensitive: true}\n", "c.yaml")
    out = Problems(doc)
    (built,) = build_lists(doc.data["lists"], out, tmp_path)
    assert built.path == tmp_path / "d.txt" and built.declared_at == ("c.yaml", 2, 28)
    (problem,) = out.problems
    assert (problem.line, problem.column) == (2, 51)
    assert "domains always ignore case" in problem.message


def test_a_file_larger_than_a_list_may_be_is_refused_at_its_declaration(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import tagger.rules.lists_read as lists_read

    monkeypatch.setattr(lists_read, "MAX_LIST_BYTES", 1 << 20)
    s = spec(tmp_path, "domains", "example.com\n" * 100_000)  # 1.2 MB
    shared, problems = read_list(s)
    assert shared is None
    (problem,) = problems
    assert (problem.file, problem.line) == ("config.yaml", 7)
    assert "holds 1200000 bytes, more than a list may (1 MiB)" in problem.message
    assert problem.hint == "split it into several lists"
