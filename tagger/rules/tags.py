"""Resolve the tags rules name (by path or name) against the account's Smart Tags.

A reference resolves to the tag whose ``path`` equals it exactly, else whose
path equals it ignoring case, else — for a reference without ``/`` — to the
one tag with that ``name`` (ignoring case). A name shared by several tags is
ambiguous and must be written as a path.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping

from tagger.errors import Problem
from tagger.mimecast.models import SmartTag
from tagger.rules.model import RuleSet
from tagger.yamldoc.suggest import did_you_mean

# How many of the account's tags an unknown-tag hint lists.
SHOWN_TAGS = 8


class _Index:
    def __init__(self, known: Iterable[SmartTag]) -> None:
        self.tags = list(known)
        self.by_path = {t.path: t for t in self.tags}
        self.by_folded_path: dict[str, list[SmartTag]] = defaultdict(list)
        self.by_name: dict[str, list[SmartTag]] = defaultdict(list)
        for tag in self.tags:
            self.by_folded_path[tag.path.casefold()].append(tag)
            self.by_name[tag.name.casefold()].append(tag)

    def resolve(self, ref: str) -> SmartTag | str:
        """Return the tag for ``ref``, or the plain reason it does not resolve."""
        if ref in self.by_path:
            return self.by_path[ref]
        folded = self.by_folded_path.get(ref.casefold(), [])
        if len(folded) == 1:
            return folded[0]
        if "/" not in ref:
            named = self.by_name.get(ref.casefold(), [])
            if len(named) == 1:
                return named[0]
            if len(named) > 1:
                paths = ", ".join(sorted(t.path for t in named))
                return f"tag name {ref!r} is ambiguous: write one of the paths {paths}"
        return f"the account has no Smart Tag {ref!r}"

    def suggestion(self, ref: str) -> str:
        """Return the fix for an unknown ``ref``: did-you-mean, where tags come from, the list."""
        close = did_you_mean(ref, [t.path for t in self.tags] + [t.name for t in self.tags])
        paths = sorted(t.path for t in self.tags)
        shown = ", ".join(paths[:SHOWN_TAGS]) or "none"
        more = (
            f" and {len(paths) - SHOWN_TAGS} more (`tagger tags`)"
            if len(paths) > SHOWN_TAGS
            else ""
        )
        where = (
            "tagger never creates Smart Tags: create it in the Mimecast Administration"
            f" Console first (then reload), or use one the account has: {shown}{more}"
        )
        return f"{close}; {where}" if close else where


def check_tags(ruleset: RuleSet, known: Iterable[SmartTag]) -> list[Problem]:
    """Return a located problem for every tag reference that does not resolve.

    Given a rule set and the account's Smart Tags. Disabled rules are checked
    too (enabling one later must not fail).
    """
    index = _Index(known)
    problems = []
    for rule in ruleset.all_rules():
        for i, ref in enumerate(rule.tags):
            found = index.resolve(ref)
            if isinstance(found, SmartTag):
                continue
            where = rule.tag_sources[i] if i < len(rule.tag_sources) else ("", 0, 0, "")
            file, line, column, path = where
            hint = "" if "ambiguous" in found else index.suggestion(ref)
            problems.append(Problem(found, file, line, column, path, hint=hint))
    return sorted(problems, key=lambda p: (p.file, p.line, p.column))


def resolve_tags(ruleset: RuleSet, known: Iterable[SmartTag]) -> Mapping[str, SmartTag]:
    """Return tag reference -> Smart Tag for every reference that resolves.

    References that do not resolve are left out; :func:`check_tags` says why.
    """
    index = _Index(known)
    out: dict[str, SmartTag] = {}
    for rule in ruleset.all_rules():
        for ref in rule.tags:
            found = index.resolve(ref)
            if isinstance(found, SmartTag):
                out[ref] = found
    return out
