"""Load the ``examples`` of a rule: each a message (inline or fixture) and the tags expected.

An example gives ``message`` (inline message-info JSON, see
:mod:`tagger.rules.messages`) or ``fixture`` (a JSON file, relative to the
rule file), optionally ``summary`` (a search result item), and ``expect``:
the tags the rule must apply to it, ``[]`` when the rule must not match.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from tagger.errors import UserError
from tagger.mimecast.models import Message
from tagger.rules.messages import parse_message, read_json, unknown_info_keys
from tagger.rules.model import Example
from tagger.yamldoc.problems import Problems
from tagger.yamldoc.suggest import did_you_mean

EXAMPLE_KEYS = ("name", "message", "fixture", "summary", "expect")
Path_ = tuple[str | int, ...]


def compile_examples(
    data: Any,
    path: Path_,
    rule_id: str,
    tags: tuple[str, ...],
    reporter: Problems,
    base_dir: Path,
) -> tuple[Example, ...]:
    """Return the rule's examples, loading fixtures; problems go to ``reporter``."""
    if not isinstance(data, list):
        return ()
    out = []
    for index, item in enumerate(data):
        here = (*path, index)
        if not isinstance(item, dict):
            continue  # the schema reports the wrong type
        expect = _expect(item.get("expect"), here, tags, reporter)
        message = _message(item, here, f"{rule_id}#{index + 1}", reporter, base_dir)
        given = item.get("name")
        name = given if isinstance(given, str) else ""
        line = reporter.doc.position(here)[0]
        out.append(Example(index + 1, name, message, expect, (reporter.doc.file, line)))
    return tuple(out)


def _expect(value: Any, path: Path_, tags: tuple[str, ...], reporter: Problems) -> tuple[str, ...]:
    if not isinstance(value, list):
        return ()
    expect = tuple(v for v in value if isinstance(v, str))
    for i, tag in enumerate(expect):
        if tag not in tags:
            hint = did_you_mean(tag, tags) or "this rule applies: " + ", ".join(tags)
            reporter.add(
                (*path, "expect", i),
                f"example expects tag {tag!r}, which this rule never applies",
                hint,
                at_value=True,
            )
    return expect


def _message(
    item: dict[Any, Any], path: Path_, default_id: str, reporter: Problems, base_dir: Path
) -> Message | None:
    has_inline, has_fixture = "message" in item, "fixture" in item
    if has_inline and has_fixture:
        reporter.add(path, "an example takes 'message' or 'fixture', not both", at_value=False)
        return None
    if not (has_inline or has_fixture or "summary" in item):
        reporter.add(path, "an example needs 'message', 'fixture' or 'summary'", at_value=False)
        return None
    info: Any = item.get("message")
    if has_fixture:
        fixture = item["fixture"]
        if not isinstance(fixture, str):
            return None  # the schema reports the wrong type
        target = base_dir / fixture
        if not target.is_file():
            reporter.add((*path, "fixture"), f"fixture file not found: {target}", at_value=True)
            return None
        try:
            info = read_json(target)
        except UserError as exc:
            problem = exc.problems[0]
            reporter.add(
                (*path, "fixture"), f"fixture {fixture!r}: {problem.message}", at_value=True
            )
            return None
    key = "fixture" if has_fixture else "message"
    for bad in unknown_info_keys(info) if info is not None else []:
        reporter.warn(
            (*path, key),
            f"message info has a key Mimecast never sends: {bad!r}",
            did_you_mean(
                bad,
                ("id", "status", "retentionInfo", "recipientInfo", "deliveredMessage", "spamInfo"),
            ),
            at_value=False,
        )
    document: Any = info
    if "summary" in item:
        document = {"summary": item["summary"]}
        if info is not None:
            document["info"] = info
    try:
        return parse_message(document, default_id=default_id)
    except ValueError as exc:
        reporter.add((*path, key if key in item else "summary"), str(exc), at_value=False)
        return None
