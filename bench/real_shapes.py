"""Wrong tags on real-shaped mail: the shipped rules plus an attachment rule, vs the ground truth.

Builds the simulator's real-shaped mailbox (components with the transmission
file and body parts, display-name From headers, checks whose ``allow`` and
``info`` disagree...), evaluates the shipped rules plus ``attachments.count >=
1`` on what the client's parser reads from the JSON, and compares, rule by
rule, with the tags the same rules give on the simulator's ground truth (its
own knowledge of each message's attachments, addresses and check results,
:mod:`tagger.simulator.truth`). Prints, per rule, the tags that would be
applied wrongly and the ones missed, and per field how many messages are
misread. Exits 1 when the current code applies a wrong tag or misses one.

``--compare-with TREE`` also evaluates the same JSON with the tagger package of
another checkout (e.g. ``git worktree add /tmp/old HEAD~3``) and that checkout's
shipped rules, in a subprocess, and prints its figures first: a before/after
comparison on identical data.

    python -m bench.real_shapes [--messages 2000] [--seed 1] [--compare-with /tmp/old]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
EXTRA_RULES = Path(__file__).resolve().parent / "real_shapes_rules.yaml"
RULE_PATHS = (ROOT / "rules", EXTRA_RULES)
# Fields whose misreading the shapes cause, compared message by message.
FIELDS = ("attachments.count", "attachments.extension", "from.domain", "spf.result")

Pairs = set[tuple[str, str]]


def evaluate_documents(documents: list[dict[str, Any]], rule_paths: list[str]) -> dict[str, Any]:
    """Evaluate JSON documents with whichever ``tagger`` is importable; returns pairs and fields.

    Uses only what every version of the package offers (the models' ``parse``,
    ``load_rules``, ``evaluate`` and the rule context), so an older checkout can run it.
    """
    import tagger
    from tagger.mimecast.models import Message, MessageInfo, TrackedEmail
    from tagger.rules import evaluate, load_rules
    from tagger.rules.context import Context
    from tagger.rules.messages import summary_from_info

    rules = load_rules([Path(p) for p in rule_paths])
    pairs: list[tuple[str, str]] = []
    fields: dict[str, dict[str, Any]] = {}
    for doc in documents:
        summary = TrackedEmail.parse(doc["summary"])
        assert summary is not None
        message = Message(summary, MessageInfo.parse(doc["info"]))
        pairs += [(message.id, d.rule_id) for d in evaluate(rules, message)]
        # Fields as read from message info alone (tagger explain, rule examples, and
        # the daemon whenever the search result lacks a value).
        info = MessageInfo.parse(doc["info"])
        assert info is not None
        ctx = Context(Message(summary_from_info(info), info))
        fields[message.id] = {name: _plain(ctx.value(name)) for name in FIELDS}
    return {"pairs": pairs, "fields": fields, "package": str(Path(tagger.__file__).parent)}


def _plain(value: Any) -> Any:
    return list(value) if isinstance(value, tuple) else value


def build(seed: int, messages: int) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Return the mailbox as JSON documents and the ground truth's pairs and field values."""
    from tagger.mimecast.models import Message
    from tagger.rules import evaluate, load_rules
    from tagger.rules.context import Context
    from tagger.rules.messages import summary_from_info
    from tagger.simulator import Simulator, SimulatorConfig
    from tagger.simulator.truth import truth_message

    sim = Simulator(SimulatorConfig(seed=seed, messages=messages))
    rules = load_rules(list(RULE_PATHS))
    documents, pairs, fields = [], [], {}
    for record in sim.messages():
        documents.append(
            {
                "summary": sim.search_summary_json(record.id),
                "info": sim.message_info_json(record.id),
            }
        )
        truth = truth_message(record)
        pairs += [(record.id, d.rule_id) for d in evaluate(rules, truth)]
        ctx = Context(Message(summary_from_info(truth.info), truth.info))
        fields[record.id] = {name: _plain(ctx.value(name)) for name in FIELDS}
    return documents, {"pairs": pairs, "fields": fields}


def report(title: str, got: dict[str, Any], truth: dict[str, Any], rule_ids: list[str]) -> int:
    """Print wrong and missed tags per rule and misread fields; returns wrong + missed."""
    want: Pairs = {tuple(p) for p in truth["pairs"]}  # type: ignore[misc]
    have: Pairs = {tuple(p) for p in got["pairs"]}  # type: ignore[misc]
    wrong, missed = Counter(r for _, r in have - want), Counter(r for _, r in want - have)
    print(f"{title}")
    print(f"  {'rule':<28} {'truth':>6} {'applied':>8} {'wrong':>6} {'missed':>7}")
    for rule in rule_ids:
        n_truth = sum(1 for _, r in want if r == rule)
        n_have = sum(1 for _, r in have if r == rule)
        print(f"  {rule:<28} {n_truth:>6} {n_have:>8} {wrong[rule]:>6} {missed[rule]:>7}")
    total_wrong, total_missed = sum(wrong.values()), sum(missed.values())
    print(f"  {'total':<28} {len(want):>6} {len(have):>8} {total_wrong:>6} {total_missed:>7}")
    misread = Counter(
        name
        for mid, values in truth["fields"].items()
        for name in FIELDS
        if got["fields"].get(mid, {}).get(name) != values[name]
    )
    line = ", ".join(f"{name} {misread[name]}" for name in FIELDS)
    print(f"  messages misread per field (from message info): {line}")
    print(f"  wrong tags: {total_wrong}, missed tags: {total_missed}")
    return total_wrong + total_missed


def run_other(tree: Path, documents: list[dict[str, Any]]) -> dict[str, Any]:
    """Evaluate ``documents`` with the tagger package of checkout ``tree`` (a subprocess)."""
    with tempfile.TemporaryDirectory() as tmp:
        dump = Path(tmp) / "documents.json"
        dump.write_text(json.dumps(documents), encoding="utf-8")
        out = Path(tmp) / "result.json"
        env = {**os.environ, "PYTHONPATH": str(tree)}
        args = [sys.executable, __file__, "--evaluate", str(dump), "--out", str(out)]
        subprocess.run(args, cwd=tree, env=env, check=True)
        result: dict[str, Any] = json.loads(out.read_text(encoding="utf-8"))
        return result


def main(argv: list[str] | None = None) -> int:
    """Run the comparison; returns the exit status (1 when the current code tags wrongly)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--messages", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--compare-with", type=Path, help="another checkout to evaluate too")
    parser.add_argument("--evaluate", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.evaluate is not None:  # the subprocess of --compare-with
        documents = json.loads(args.evaluate.read_text(encoding="utf-8"))
        # The other checkout's own shipped rules, as it would run them, plus the extra rule.
        paths = [str(Path.cwd() / "rules"), str(EXTRA_RULES)]
        result = evaluate_documents(documents, paths)
        args.out.write_text(json.dumps(result), encoding="utf-8")
        return 0

    from tagger.rules import load_rules

    rule_ids = sorted(r.id for r in load_rules(list(RULE_PATHS)).rules)
    documents, truth = build(args.seed, args.messages)
    print(f"{len(documents)} real-shaped messages (seed {args.seed}), {len(rule_ids)} rules")
    if args.compare_with is not None:
        before = run_other(args.compare_with.resolve(), documents)
        report(f"before (tagger from {before['package']}):", before, truth, rule_ids)
    now = evaluate_documents(documents, [str(p) for p in RULE_PATHS])
    errors = report("now (this checkout):", now, truth, rule_ids)
    # The figures mean something only if the truth has tags for the attachment rule.
    has_files = sum(1 for _, r in truth["pairs"] if r == "has-attachments")
    checks_ok = errors == 0 and 0 < has_files < len(documents)
    print(f"self-check: {'ok' if checks_ok else 'FAILED'}")
    return 0 if checks_ok else 1


if __name__ == "__main__":
    sys.exit(main())
