"""Benchmark shared lists: rules testing 100,000-entry domain lists over 10,000 messages.

Generates (seeded) three domain lists of 100,000 entries each, the 100 rules
of :mod:`bench.rules_eval`, ten rules that test the lists with ``in_list``
(sender, header-From and recipient domains, a sender address, alone and
with other conditions), and 10,000 messages whose senders and recipients come
from the rule benchmark's domains, from subdomains of listed domains and from
near misses (``x`` + a listed domain). Everything is loaded through the real
loader with the lists declared as a config declares them.

Prints, on one core:

* the time to read and compile the lists, and to load the rules without them;
  the memory one list keeps (measured apart, with tracemalloc);
* ``evaluate()`` evaluations per second for the 100 rules alone ("without
  lists") and for the 110 rules with the list rules ("with lists"), and
  their ratio (each the best of two alternated runs);
* the ten list rules' tests alone, per second;
* one ``sender.domain`` test against a 100,000-entry list, as ``in_list``
  and as the same domains pasted into a rule (``domain: [...]``, which
  checks every suffix in turn), on a sample of messages, and whether the two
  ever disagree (the exit status is 1 if they do);
* one ``subject`` test against a list of 10,000 regular expressions
  (``--regexes``), compiled once into RE2 sets, per second.

Run with ``python -m bench.lists [--entries N] [--messages N]``.
"""

from __future__ import annotations

import argparse
import random
import string
import sys
import tempfile
import time
import tracemalloc
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import yaml

from bench import rules_eval
from tagger.config.lists import ListSpec
from tagger.mimecast.models import Message
from tagger.rules import RuleSet, evaluate, load_rules
from tagger.rules.conditions import ConditionCompiler
from tagger.rules.context import Context
from tagger.rules.lists_read import read_lists
from tagger.yamldoc.problems import Problems
from tagger.yamldoc.source import Located

LISTS = ("newsletters", "partners", "bad")
TLDS = ("com", "net", "org", "io", "co.uk", "de", "info", "biz", "example")
SAMPLE = 200


def make_domains(rng: random.Random, count: int) -> list[str]:
    """Return ``count`` distinct random domains (one or two labels under a TLD)."""
    out: set[str] = set()
    while len(out) < count:
        label = "".join(rng.choices(string.ascii_lowercase, k=rng.randint(5, 12)))
        parent = f"{label}{rng.randint(0, 99)}.{rng.choice(TLDS)}"
        out.add(f"mail.{parent}" if rng.random() < 0.1 else parent)
    return sorted(out)


def make_patterns(rng: random.Random, count: int) -> list[str]:
    """Return ``count`` subject patterns, a few of which match the generated subjects."""
    words = rules_eval.WORDS
    out = [
        f"{rng.choice(words)}[ -]+{rng.choice(words)}[ -]+{rng.randint(0, 99_999)}"
        for _ in range(count - 10)
    ]
    return out + [f"^{w} {v}\\b" for w, v in zip(words[:10], words[5:15], strict=True)]


def write_rule(where: Path, test: dict[str, Any]) -> Path:
    """Write one rule with ``test`` as its match; return the file."""
    path = where / "one.yaml"
    rule = {"id": "one", "description": "bench", "match": test, "tags": ["Bench/One"]}
    path.write_text(yaml.safe_dump({"rules": [rule]}), "utf-8")
    return path


def list_rules() -> list[dict[str, Any]]:
    """Return the ten rules that test the lists."""
    tests: list[dict[str, Any]] = [
        {"field": "sender.domain", "in_list": "bad"},
        {"field": "from.domain", "in_list": "newsletters"},
        {"field": "recipients.domain", "in_list": "partners"},
        {"field": "sender.address", "in_list": "bad"},
        {
            "all": [
                {"field": "sender.domain", "in_list": "newsletters"},
                {"field": "spam.score", "gt": 3},
            ]
        },
        {
            "any": [
                {"field": "sender.domain", "in_list": "partners"},
                {"field": "from.domain", "in_list": "partners"},
            ]
        },
        {"field": "from.address", "in_list": "bad"},
        {"field": "recipients.address", "in_list": "newsletters", "elements": "all"},
        {"not": {"field": "sender.domain", "in_list": "partners"}},
        {"field": "from.domain", "in_list": "bad"},
    ]
    rules = []
    for i, test in enumerate(tests):
        rule: dict[str, Any] = {
            "id": f"list-{i:02d}",
            "description": "benchmark rule testing a shared list",
            "search": {"route": ["inbound"]},
            "match": test,
            "tags": [f"Bench/List {i}"],
        }
        if i % 3 == 0:
            rule["unless"] = {"field": "recipients.domain", "in_list": "newsletters"}
        rules.append(rule)
    return rules


@contextmanager
def sender_pool(domains: list[str]) -> Iterator[None]:
    """Let :func:`bench.rules_eval.make_message` draw addresses from ``domains`` too."""
    saved = list(rules_eval.DOMAINS)
    rules_eval.DOMAINS[:] = saved + domains
    try:
        yield
    finally:
        rules_eval.DOMAINS[:] = saved


def evaluations_per_second(ruleset: RuleSet, messages: list[Message]) -> tuple[float, int]:
    """Return ``evaluate()``'s message-x-rule evaluations per second, and the decisions."""
    started = time.perf_counter()
    decisions = sum(len(evaluate(ruleset, m)) for m in messages)
    return len(ruleset.rules) * len(messages) / (time.perf_counter() - started), decisions


def tests_per_second(ruleset: RuleSet, messages: list[Message]) -> float:
    """Return the rules' tests alone (no decisions) per second."""
    started = time.perf_counter()
    for message in messages:
        ctx = Context(message)
        for rule in ruleset.rules:
            rule.test(ctx)
    return len(ruleset.rules) * len(messages) / (time.perf_counter() - started)


def single_test_rate(condition: Any, messages: list[Message]) -> tuple[float, list[bool | None]]:
    """Return one compiled condition's tests per second and its outcomes."""
    started = time.perf_counter()
    outcomes = [condition.test(Context(m)) for m in messages]
    return len(messages) / (time.perf_counter() - started), outcomes


def pasted(domains: list[str]) -> Any:
    """Compile ``sender.domain`` against the domains pasted into the rule (``domain: [...]``)."""
    data = {"field": "sender.domain", "domain": domains}
    reporter = Problems(Located(data, "<bench>"))
    node = ConditionCompiler(reporter).compile(data, ("match",))
    assert node is not None and not reporter.problems
    return node


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print the figures; returns the exit status."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--entries", type=int, default=100_000, help="entries per list")
    parser.add_argument("--messages", type=int, default=10_000)
    parser.add_argument("--regexes", type=int, default=10_000, help="entries of the regex list")
    parser.add_argument("--seed", type=int, default=20261204)
    args = parser.parse_args(argv)
    rng = random.Random(args.seed)
    base_rules = [rules_eval.make_rule(rng, i) for i in range(100)]
    domains = {name: make_domains(rng, args.entries) for name in LISTS}
    # About a quarter of the addresses are in (or under) a listed domain, as many are near misses.
    listed = [d for name in LISTS for d in rng.sample(domains[name], 4)]
    near = [f"x{d}" for d in rng.sample(listed, 12)]
    under = [f"{rng.choice(['eu', 'mx1', 'news'])}.{d}" for d in listed[::2]]
    pool = rules_eval.DOMAINS * 3 + listed[1::2] + under + near
    with sender_pool(pool):
        messages = [rules_eval.make_message(rng, i) for i in range(args.messages)]

    with tempfile.TemporaryDirectory() as tmp:
        where = Path(tmp)
        specs = []
        for name in LISTS:
            path = where / f"{name}.txt"
            path.write_text("# benchmark list\n" + "\n".join(domains[name]) + "\n", "utf-8")
            specs.append(ListSpec(name, "domains", path, declared_at=("<bench>", 0, 0)))
        patterns = where / "patterns.txt"
        patterns.write_text("\n".join(make_patterns(rng, args.regexes)) + "\n", "utf-8")
        regex_spec = ListSpec("patterns", "regexes", patterns, declared_at=("<bench>", 0, 0))
        started = time.perf_counter()
        regex_rules = load_rules(
            [write_rule(where, {"field": "subject", "in_list": "patterns"})], [regex_spec]
        )
        regex_load_s = time.perf_counter() - started
        base_file, all_file = where / "base.yaml", where / "lists.yaml"
        base_file.write_text(yaml.safe_dump({"rules": base_rules}, sort_keys=False), "utf-8")
        all_file.write_text(
            yaml.safe_dump({"rules": base_rules + list_rules()}, sort_keys=False), "utf-8"
        )
        started = time.perf_counter()
        catalog, problems = read_lists(specs)
        read_s = time.perf_counter() - started
        assert not problems, problems
        tracemalloc.start()
        kept, _ = read_lists(specs[:1])
        list_bytes = tracemalloc.get_traced_memory()[0]
        tracemalloc.stop()
        del kept
        started = time.perf_counter()
        without = load_rules([base_file])
        base_load_s = time.perf_counter() - started
        with_lists = load_rules([all_file], specs)
    only_lists = RuleSet(rules=tuple(r for r in with_lists.rules if r.id.startswith("list-")))

    senders = [Context(m).folded("sender.domain") or "" for m in messages]
    in_list = sum(
        1 for s in senders if any(catalog.lists[n].matcher.find(s) is not None for n in LISTS)
    )
    print(
        f"python {sys.version.split()[0]}, one core; {len(LISTS)} domain lists x "
        f"{args.entries:,} entries, {len(messages):,} messages "
        f"({in_list / len(messages):.0%} with a listed sender)"
    )
    print(
        f"lists read and compiled in {read_s * 1000:.0f} ms "
        f"({len(LISTS) * args.entries / read_s:,.0f} entries/s); "
        f"100 rules without lists loaded in {base_load_s * 1000:.0f} ms; "
        f"one list keeps {list_bytes / 2**20:.1f} MiB"
    )
    # Alternated and the best of two kept: a busy machine slows one run, not both figures.
    base_runs, list_runs = [], []
    for _ in range(2):
        base_runs.append(evaluations_per_second(without, messages))
        list_runs.append(evaluations_per_second(with_lists, messages))
    base_rate, base_decisions = max(base_runs)
    list_rate, list_decisions = max(list_runs)
    print(
        f"without lists: {len(without.rules)} rules, {base_rate:,.0f} evaluations/s "
        f"({base_decisions:,} decisions)"
    )
    print(
        f"with lists:    {len(with_lists.rules)} rules, {list_rate:,.0f} evaluations/s "
        f"({list_decisions:,} decisions)"
    )
    print(f"ratio with/without lists (per evaluation): {list_rate / base_rate:.2f}")
    print(
        f"the {len(only_lists.rules)} list rules' tests alone: "
        f"{tests_per_second(only_lists, messages):,.0f} evaluations/s"
    )

    sample = messages[:SAMPLE]
    test = next(r for r in only_lists.rules if r.id == "list-00").match
    set_rate, set_out = single_test_rate(test, sample)
    scan_rate, scan_out = single_test_rate(pasted(domains["bad"]), sample)
    disagree = sum(a != b for a, b in zip(set_out, scan_out, strict=True))
    print(
        f"one sender.domain test, {args.entries:,} domains, {SAMPLE} messages: "
        f"in_list {set_rate:,.0f}/s; pasted 'domain: [...]' {scan_rate:,.0f}/s "
        f"({set_rate / scan_rate:,.0f}x); outcomes that disagree: {disagree}"
    )
    regex_rate, regex_out = single_test_rate(regex_rules.rules[0].match, messages[: SAMPLE * 5])
    print(
        f"one subject test, {args.regexes:,} regexes (read and compiled in "
        f"{regex_load_s * 1000:.0f} ms), {SAMPLE * 5} messages: {regex_rate:,.0f}/s, "
        f"{sum(1 for o in regex_out if o)} matched"
    )
    return 1 if disagree else 0


if __name__ == "__main__":
    raise SystemExit(main())
