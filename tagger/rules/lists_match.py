"""Matchers over the entries of a shared list, built once when the list is read.

Each matcher answers ``find(value)``: the index of an entry that matches the
value, or None, in time that does not grow with the number of entries for
domains, addresses and strings (set lookups) and, for regular expressions,
with a few RE2 sets instead of one search per entry.

* domains: the value's domain (the part after ``@`` of an address) and each
  of its parent domains are looked up: ``a.b.example.com`` tries
  ``a.b.example.com``, ``b.example.com``, ``example.com`` and ``com``;
* addresses and strings: the whole value is looked up;
* regexes: the patterns are compiled into RE2 sets of at most
  :data:`REGEX_CHUNK` patterns each. A set runs one automaton over the value
  and answers which of its patterns match, in time linear in the value.
  A set has no slower engine to fall back on, so RE2 checks when compiling
  it that its automaton fits the memory bound (a set that does not is split
  in halves); once compiled, its automaton rebuilds its cache as often as it
  needs to rather than give up. A list's sets share one memory bound
  (:data:`LIST_REGEX_MEMORY`, see :func:`set_memory`).

Values handed to regexes are cut to :data:`~tagger.rules.matchers.MAX_MATCH_INPUT`
characters, like the ``regex`` operator's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import re2

from tagger.rules.matchers import MAX_MATCH_INPUT, PatternError

REGEX_CHUNK = 5000
"""Most patterns compiled into one RE2 set."""

# A set's automaton grows its cache up to its memory bound as it meets new
# values, so a list's sets share one bound (a long-running daemon meets many
# values): 64 MiB a set for lists of up to four sets, less for longer ones,
# never under 8 MiB. A set that does not fit its bound is split in halves.
LIST_REGEX_MEMORY = 256 << 20
_SET_MEMORY_MAX = 64 << 20
_SET_MEMORY_MIN = 8 << 20


def set_memory(patterns: int) -> int:
    """Return the memory bound of each RE2 set of a regex list of ``patterns`` entries."""
    sets = max(1, -(-patterns // REGEX_CHUNK))
    return max(_SET_MEMORY_MIN, min(_SET_MEMORY_MAX, LIST_REGEX_MEMORY // sets))


class ListMatcher(Protocol):
    """Finds which entry of a list matches a value."""

    def find(self, value: str) -> int | None:
        """Return the index of a matching entry, or None."""


def _other_form(domain: str) -> str | None:
    """Return an internationalised domain in its other form (Unicode <-> ``xn--``), or None."""
    try:
        if not domain.isascii():
            return domain.encode("idna").decode("ascii")
        if "xn--" in domain:
            return domain.encode("ascii").decode("idna").casefold()
    except UnicodeError:
        return None  # not valid IDNA: matched as written only
    return None


class DomainMatcher:
    """Domains and their subdomains: a set lookup for the value's domain and each parent.

    An internationalised domain matches in both its forms (``bücher.de`` and
    ``xn--bcher-kva.de``), as mail may carry either.
    """

    __slots__ = ("_index",)

    def __init__(self, domains: Sequence[str]) -> None:
        """Given the normalised domains (lower case, no trailing dot), in entry order."""
        index: dict[str, int] = {}
        for i, domain in enumerate(domains):
            index.setdefault(domain, i)
        for i, domain in enumerate(domains):
            other = _other_form(domain)
            if other is not None:
                index.setdefault(other, i)
        self._index = index

    def find(self, value: str) -> int | None:
        """Return the entry of the value's domain or of its nearest listed parent, or None."""
        index = self._index
        domain = value.rpartition("@")[2].rstrip(".")
        while domain:
            found = index.get(domain)
            if found is not None:
                return found
            dot = domain.find(".")
            if dot < 0:
                return None
            domain = domain[dot + 1 :]
        return None


class ExactMatcher:
    """Whole values (addresses, strings): one set lookup."""

    __slots__ = ("_index",)

    def __init__(self, values: Sequence[str]) -> None:
        """Given the normalised values (folded unless the list is case-sensitive)."""
        index: dict[str, int] = {}
        for i, value in enumerate(values):
            index.setdefault(value, i)
        self._index = index

    def find(self, value: str) -> int | None:
        """Return the entry equal to ``value``, or None."""
        return self._index.get(value)


def _options(case_sensitive: bool, memory: int) -> Any:
    options = re2.Options()
    options.case_sensitive = case_sensitive
    options.log_errors = False
    options.max_mem = memory
    return options


class RegexMatcher:
    """RE2 patterns, compiled once into a few RE2 sets (one automaton answers for thousands)."""

    __slots__ = ("_sets",)

    def __init__(self, patterns: Sequence[Any], *, case_sensitive: bool) -> None:
        """Given each entry's compiled RE2 pattern (already checked one by one).

        Raises:
            PatternError: one pattern alone does not fit a set's memory bound.
        """
        options = _options(case_sensitive, set_memory(len(patterns)))
        texts = [p.pattern for p in patterns]
        self._sets: list[tuple[Any, int]] = []
        for start in range(0, len(texts), REGEX_CHUNK):
            self._combine(texts, start, min(start + REGEX_CHUNK, len(texts)), options)

    def _combine(self, texts: list[str], start: int, end: int, options: Any) -> None:
        """Compile entries ``start..end`` as one set, in halves when it does not fit."""
        matcher = re2.Set.SearchSet(options)
        for text in texts[start:end]:
            matcher.Add(text)
        try:
            matcher.Compile()
        except re2.error:
            if end - start == 1:
                raise PatternError(
                    f"regex '{texts[start]}' is too large to match within "
                    f"{options.max_mem >> 20} MiB"
                ) from None
            middle = (start + end) // 2
            self._combine(texts, start, middle, options)
            self._combine(texts, middle, end, options)
            return
        self._sets.append((matcher.Match, start))

    def find(self, value: str) -> int | None:
        """Return the first entry (in file order) that matches somewhere in the value, or None."""
        cut = value[:MAX_MATCH_INPUT]
        for match, offset in self._sets:
            found: list[int] | None = match(cut)
            if found:
                return offset + min(found)
        return None
