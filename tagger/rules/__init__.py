"""The rule language: load, validate, compile and evaluate tagging rules.

``load_rules`` is the one loader used by every command and by the daemon;
``evaluate`` is the one evaluator. See docs/rules.md for the language.
"""

from tagger.rules.evaluate import evaluate, explain_message, prefilter, rule_outcome
from tagger.rules.explain import RuleTrace, Trace, render
from tagger.rules.loader import check_rule_files, load_rules, rules_schema
from tagger.rules.model import CompiledRule, Decision, Example, RuleSet
from tagger.rules.tags import check_tags, resolve_tags

__all__ = [
    "CompiledRule",
    "Decision",
    "Example",
    "RuleSet",
    "RuleTrace",
    "Trace",
    "check_rule_files",
    "check_tags",
    "evaluate",
    "explain_message",
    "load_rules",
    "prefilter",
    "render",
    "resolve_tags",
    "rule_outcome",
    "rules_schema",
]
