""" "Did you mean": by spelling, and for dotted names by meaning too.

A misspelt word is matched to the closest known one. A dotted name whose
last part is wrong but whose prefix is known (``dmarc.status``) is matched
among the names with that prefix first, by what the word usually means
(``status``, ``verdict``, ``outcome`` → ``result``) and then by spelling, so
it suggests ``dmarc.result`` rather than the unrelated ``status``.
"""

from __future__ import annotations

import difflib
from collections.abc import Iterable

# What users write for the last part of a dotted name → what the names use.
MEANINGS: dict[str, tuple[str, ...]] = {
    "status": ("result", "decision"),
    "state": ("result",),
    "outcome": ("result", "decision"),
    "verdict": ("result", "decision"),
    "pass": ("result", "allow"),
    "passed": ("result", "allow"),
    "valid": ("result",),
    "check": ("result",),
    "value": ("result",),
    "allowed": ("allow",),
    "permit": ("allow",),
    "level": ("detection_level", "risk"),
    "email": ("address",),
    "mail": ("address",),
    "addr": ("address",),
    "addresses": ("address",),
    "host": ("domain",),
    "domains": ("domain",),
    "filename": ("name",),
    "file": ("name",),
    "ext": ("extension",),
    "type": ("mime_type", "type"),
    "mime": ("mime_type",),
    "number": ("count",),
    "total": ("count",),
    "has": ("present",),
    "exists": ("present",),
    "any": ("present",),
    "rating": ("score",),
    "points": ("score",),
}


def closest(word: str, candidates: Iterable[str]) -> str | None:
    """Return the known name ``word`` most likely stands for, or None when none is close."""
    by_folded = {str(c).casefold(): str(c) for c in candidates}
    folded = str(word).casefold()
    prefix, dot, last = folded.rpartition(".")
    if dot:
        siblings = {
            k.rpartition(".")[2]: v for k, v in by_folded.items() if k.rpartition(".")[0] == prefix
        }
        for meant in MEANINGS.get(last, ()):
            if meant in siblings:
                return siblings[meant]
        near = difflib.get_close_matches(last, list(siblings), n=1, cutoff=0.5)
        if near:
            return siblings[near[0]]
    near = difflib.get_close_matches(folded, list(by_folded), n=1, cutoff=0.6)
    return by_folded[near[0]] if near else None


def did_you_mean(word: str, candidates: Iterable[str]) -> str:
    """Return ``"did you mean 'x'?"`` for :func:`closest`, or ``""`` when nothing is close."""
    found = closest(word, candidates)
    return f"did you mean '{found}'?" if found is not None else ""
