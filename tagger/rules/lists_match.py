"""Matchers over the entries of a shared list, built once when the list is read.

Each matcher answers ``find(value)``: the index of an entry that matches the
value, or None, in time that does not grow with the number of entries for
domains, addresses and strings (set lookups) and, for regular expressions,
with a few combined RE2 programs instead of one search per entry.

* domains: the value's domain (the part after ``@`` of an address) and each
  of its parent domains are looked up: ``a.b.example.com`` tries
  ``a.b.example.com``, ``b.example.com``, ``example.com`` and ``com``;
* addresses and strings: the whole value is looked up;
* regexes: the patterns are joined into alternations of at most
  :data:`REGEX_CHUNK` patterns each (RE2 keeps matching linear and falls
  back from its DFA to its NFA when a program is large, so a combined
  program never misses a match); only when one matches, or when asked which
  entry matched, are its patterns tried one by one.

Values handed to regexes are cut to :data:`~tagger.rules.matchers.MAX_MATCH_INPUT`
characters, like the ``regex`` operator's.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Protocol

import re2

from tagger.rules.matchers import MAX_MATCH_INPUT

REGEX_CHUNK = 1000
"""Most patterns joined into one RE2 program."""

# Per combined program: room for a thousand ordinary patterns; a chunk that
# needs more is split in halves until it fits.
_CHUNK_MEMORY = 64 << 20


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


def _options(case_sensitive: bool) -> Any:
    options = re2.Options()
    options.case_sensitive = case_sensitive
    options.log_errors = False
    options.max_mem = _CHUNK_MEMORY
    return options


class RegexMatcher:
    """RE2 patterns, compiled once into a few combined programs."""

    __slots__ = ("_chunks", "_singles")

    def __init__(self, patterns: Sequence[Any], *, case_sensitive: bool) -> None:
        """Given each entry's compiled RE2 pattern (already checked one by one)."""
        self._singles = tuple(patterns)
        options = _options(case_sensitive)
        self._chunks: list[tuple[Any, int, int]] = []
        for start in range(0, len(patterns), REGEX_CHUNK):
            self._combine(start, min(start + REGEX_CHUNK, len(patterns)), options)

    def _combine(self, start: int, end: int, options: Any) -> None:
        """Compile entries ``start..end`` as one alternation, in halves when too large."""
        text = "|".join(f"(?:{p.pattern})" for p in self._singles[start:end])
        try:
            self._chunks.append((re2.compile(text, options).search, start, end))
        except re2.error:
            if end - start == 1:
                # Compiled alone already: keep it alone.
                self._chunks.append((self._singles[start].search, start, end))
                return
            middle = (start + end) // 2
            self._combine(start, middle, options)
            self._combine(middle, end, options)

    def find(self, value: str) -> int | None:
        """Return the first entry (in file order) that matches somewhere in the value, or None."""
        cut = value[:MAX_MATCH_INPUT]
        singles = self._singles
        for search, start, end in self._chunks:
            if search(cut) is None:
                continue
            for i in range(start, end):
                if singles[i].search(cut) is not None:
                    return i
        return None
