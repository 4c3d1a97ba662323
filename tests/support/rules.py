"""Helpers for the rule-language tests: compile a condition or rule from plain data."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from tagger.mimecast.models import Message, MessageInfo, TrackedEmail
from tagger.rules import RuleSet, check_rule_files
from tagger.rules.conditions import ConditionCompiler
from tagger.rules.nodes import Node
from tagger.yamldoc.problems import Problems
from tagger.yamldoc.source import Located
from testkit import RULES_DIR as RULES_DIR  # re-exported for the rule tests


def compile_condition(data: Any) -> Node:
    """Compile one condition mapping; fail the test if it has any problem."""
    reporter = Problems(Located(data, "<test>"))
    node = ConditionCompiler(reporter).compile(data, ("match",))
    assert not reporter.problems, [str(p) for p in reporter.problems]
    assert node is not None
    return node


def condition_problems(data: Any) -> list[str]:
    """Return the compiler's problem messages for one condition mapping."""
    reporter = Problems(Located(data, "<test>"))
    ConditionCompiler(reporter).compile(data, ("match",))
    return [p.message for p in reporter.problems]


def write_rules(tmp_path: Path, rules: list[dict[str, Any]], name: str = "r.yaml") -> Path:
    """Write rules as a YAML rule file and return its path."""
    path = tmp_path / name
    path.write_text(yaml.safe_dump({"rules": rules}, sort_keys=False), encoding="utf-8")
    return path


def ruleset_of(tmp_path: Path, rules: list[dict[str, Any]]) -> RuleSet:
    """Load rules from data through the real loader; fail the test on any error."""
    ruleset, problems = check_rule_files([write_rules(tmp_path, rules)])
    assert ruleset is not None, [str(p) for p in problems]
    return ruleset


def rule(rule_id: str, match: Any = None, **extra: Any) -> dict[str, Any]:
    """Return a minimal rule mapping (inbound search) with ``match``."""
    data: dict[str, Any] = {
        "id": rule_id,
        "description": f"test rule {rule_id}",
        "search": {"route": ["inbound"]},
        "tags": [f"Test/{rule_id}"],
    }
    if match is not None:
        data["match"] = match
    data.update(extra)
    return data


def message(info: dict[str, Any] | None = None, **summary: Any) -> Message:
    """Build a message from a message-info item and search-summary keys."""
    parsed_info = MessageInfo.parse({"id": "m1", **(info or {})}) if info is not None else None
    parsed_summary = TrackedEmail.parse({"id": "m1", **summary})
    assert parsed_summary is not None
    return Message(parsed_summary, parsed_info)


METADATA_RULE = """rules:
  - id: owned
    description: a rule with metadata
    search: {route: [inbound]}
    match: {field: spam.score, gte: 5}
    tags: [Security/Phishing]
"""


def metadata_rule_file(tmp: Path, extra: str, name: str = "r.yaml") -> Path:
    path = tmp / name
    path.write_text(METADATA_RULE + extra, encoding="utf-8")
    return path
