"""Read the shared list files the config declares into matchers, with located problems.

A list file is UTF-8 text, one entry per line. Blank lines are skipped; a
line whose first non-blank character is ``#`` is a comment; in domain and
address lists a ``#`` after blanks ends the entry too (``example.com  # why``),
while in string and regex lists the whole line is the entry (``#`` and
blanks can be part of one). Entries are stripped of surrounding blanks.

Every malformed entry is reported at ``list-file:line:column`` (at most
:data:`MAX_PROBLEMS_PER_LIST` of them, then a count); a missing or unreadable
file at the list's ``path`` in the config. Nothing here raises for bad input.
"""

from __future__ import annotations

import hashlib
import json
import re
import stat
from array import array
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from tagger.config.lists import ListSpec
from tagger.errors import Problem
from tagger.rules.lists_match import DomainMatcher, ExactMatcher, ListMatcher, RegexMatcher
from tagger.rules.matchers import PatternError, compile_regex

MAX_PROBLEMS_PER_LIST = 20
MAX_LIST_BYTES = 128 << 20
"""Largest list file read (128 MiB: millions of entries)."""

_TRAILING_COMMENT = re.compile(r"\s#")
# Labels of letters (any script), digits, '-' and '_', joined by single dots.
_DOMAIN = re.compile(r"[\w-]+(?:\.[\w-]+)*")
_LOOKAROUND = ("(?=", "(?!", "(?<=", "(?<!", "(?P=", "\\k<")


@dataclass(frozen=True, eq=False, slots=True)
class SharedList:
    """One list, read and compiled: its entries as written, their lines, and the matcher.

    ``digest`` is the SHA-256 of the list's kind, case rule and sorted
    normalised entries: it changes when what the list matches changes, not
    when comments, blank lines or the order of entries do.
    """

    spec: ListSpec
    entries: tuple[str, ...]
    lines: Sequence[int]  # an array of unsigned ints: 4 bytes an entry
    matcher: ListMatcher
    digest: str

    @property
    def name(self) -> str:
        """Return the list's name."""
        return self.spec.name

    @property
    def reads_folded(self) -> bool:
        """Whether the matcher expects case-folded values (all but regexes and case-sensitive)."""
        return self.spec.kind != "regexes" and not self.spec.case_sensitive

    def describe(self, index: int) -> str:
        """Return e.g. ``list newsletters: 'example.com' (lists/newsletters.txt:12)``."""
        return f"list {self.name}: '{self.entries[index]}' ({self.spec.path}:{self.lines[index]})"


@dataclass(frozen=True, slots=True)
class ListCatalog:
    """The lists rules may name: those read well, and the names of those that failed.

    A rule naming a failed list gets no second error (the list's problem is
    reported already). ``config`` is the file that declares them ("" when no
    configuration was given).
    """

    lists: dict[str, SharedList] = field(default_factory=dict)
    broken: frozenset[str] = frozenset()
    config: str = ""

    def declared(self) -> tuple[str, ...]:
        """Return every declared name, read or not."""
        return (*self.lists, *sorted(self.broken))


def read_lists(specs: Sequence[ListSpec]) -> tuple[ListCatalog, list[Problem]]:
    """Read every declared list file and compile its matcher.

    Given the declarations from the config. Returns the catalogue and every
    problem found (errors for unreadable files and malformed entries,
    warnings for empty lists).
    """
    lists: dict[str, SharedList] = {}
    broken: set[str] = set()
    problems: list[Problem] = []
    for spec in specs:
        shared, found = read_list(spec)
        problems.extend(found)
        if shared is None:
            broken.add(spec.name)
        else:
            lists[spec.name] = shared
    config = specs[0].declared_at[0] if specs else ""
    return ListCatalog(lists, frozenset(broken), config), problems


def _at_declaration(spec: ListSpec, message: str, hint: str = "", **kw: Any) -> Problem:
    file, line, column = spec.declared_at
    path = f"lists.{spec.name}.path"
    return Problem(message, file=file, line=line, column=column, path=path, hint=hint, **kw)


def _read_text(spec: ListSpec) -> tuple[str | None, Problem | None]:
    """Return the file's text, or the problem (located at the declaration, or at the bad byte)."""
    try:
        found = spec.path.stat()
        if not stat.S_ISREG(found.st_mode):
            what = "a directory" if stat.S_ISDIR(found.st_mode) else "not a regular file"
            message = f"list {spec.name!r}: {spec.path} is {what}"
            hint = f"lists.{spec.name}.path names a text file, one entry per line"
            return None, _at_declaration(spec, message, hint)
        size = found.st_size
        if size > MAX_LIST_BYTES:
            message = (
                f"list {spec.name!r}: {spec.path} holds {size} bytes, more than a list may "
                f"({MAX_LIST_BYTES >> 20} MiB)"
            )
            return None, _at_declaration(spec, message, "split it into several lists")
        data = spec.path.read_bytes()
    except OSError as exc:
        reason = exc.strerror or str(exc)
        hint = f"create it (one entry per line) or correct lists.{spec.name}.path"
        if isinstance(exc, PermissionError):
            hint = "let the user running tagger read it (and its directory)"
        message = f"list {spec.name!r}: cannot read {spec.path}: {reason}"
        return None, _at_declaration(spec, message, hint)
    try:
        return data.decode("utf-8-sig"), None
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        column = exc.start - (data.rfind(b"\n", 0, exc.start) + 1) + 1
        message = f"list {spec.name!r}: not UTF-8 text (byte {exc.start})"
        problem = Problem(message, file=str(spec.path), line=line, column=column)
        return None, problem


def read_list(spec: ListSpec) -> tuple[SharedList | None, list[Problem]]:
    """Read one list file: the compiled list (None on any error) and its problems."""
    text, problem = _read_text(spec)
    if text is None:
        return None, [problem] if problem is not None else []
    parse = _PARSERS[spec.kind]
    written: list[str] = []
    keys: list[Any] = []
    lines = array("I")
    problems: list[Problem] = []
    errors = 0
    comments_after = spec.kind in ("domains", "addresses")
    # Only a line feed ends a line (a carriage return before it is stripped with the blanks):
    # line numbers are those an editor shows, whatever other separators the text holds.
    for number, raw in enumerate(text.split("\n"), start=1):
        entry = raw.strip()
        if not entry or entry.startswith("#"):
            continue
        if comments_after and "#" in entry:
            entry = _TRAILING_COMMENT.split(entry, maxsplit=1)[0].rstrip()
        try:
            key = parse(entry, spec)
        except EntryError as exc:
            errors += 1
            if errors <= MAX_PROBLEMS_PER_LIST:
                column = raw.find(entry) + 1 + exc.offset
                message = f"list {spec.name!r} ({spec.kind}): {exc}"
                problems.append(
                    Problem(message, file=str(spec.path), line=number, column=column, hint=exc.hint)
                )
            continue
        # The entry as written is most often its normal form: keep one string, not two.
        written.append(key if key == entry else entry)
        keys.append(key)
        lines.append(number)
    if errors > MAX_PROBLEMS_PER_LIST:
        more = errors - MAX_PROBLEMS_PER_LIST
        problems.append(
            Problem(
                f"list {spec.name!r}: {more} more malformed entries not shown ({errors} in all)",
                file=str(spec.path),
                hint=f"is this a {spec.kind} list? check lists.{spec.name}.kind",
            )
        )
    if errors:
        return None, problems
    if not keys:
        problems.append(
            _at_declaration(
                spec,
                f"list {spec.name!r}: {spec.path} has no entries: every in_list test of it "
                "is false",
                severity="warning",
            )
        )
    try:
        matcher = _matcher(spec, keys)
    except PatternError as exc:
        problems.append(_at_declaration(spec, f"list {spec.name!r}: {exc}", "split the list"))
        return None, problems
    return SharedList(spec, tuple(written), lines, matcher, _digest(spec, keys)), problems


def _matcher(spec: ListSpec, keys: list[Any]) -> ListMatcher:
    if spec.kind == "domains":
        return DomainMatcher(keys)
    if spec.kind == "regexes":
        return RegexMatcher(keys, case_sensitive=spec.case_sensitive)
    return ExactMatcher(keys)


def _digest(spec: ListSpec, keys: list[Any]) -> str:
    values = sorted({getattr(k, "pattern", k) for k in keys})
    text = json.dumps([spec.kind, spec.case_sensitive, values], separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


class EntryError(ValueError):
    """A malformed list entry: the message, a hint, and the offset in the entry where it is."""

    def __init__(self, message: str, hint: str = "", offset: int = 0) -> None:
        super().__init__(message)
        self.hint = hint
        self.offset = offset


def _check_domain(entry: str, domain: str) -> None:
    if not _DOMAIN.fullmatch(domain) or len(domain) > 253:
        bad = next((i for i, c in enumerate(entry) if not (c.isalnum() or c in "-_.")), 0)
        if ".." in entry and not bad:
            bad = entry.find("..") + 1
        if "://" in entry or "/" in entry:
            host = entry.split("://")[-1].split("/")[0]
            raise EntryError(f"{entry!r} is a URL, not a domain", f"write '{host}'", bad)
        raise EntryError(f"{entry!r} is not a domain", "one domain per line", bad)


def parse_domain_entry(entry: str, spec: ListSpec) -> str:
    """Return the entry as a lower-case domain without its trailing dot.

    Raises:
        EntryError: the entry is not a domain (an address, a wildcard, a URL...).
    """
    domain = entry.rstrip(".").casefold()
    if "@" in domain:
        raise EntryError(
            f"{entry!r} is an address, not a domain",
            f"write '{domain.rpartition('@')[2]}', or keep addresses in an addresses list",
            entry.find("@"),
        )
    if domain.startswith(("*.", ".")):
        raise EntryError(
            f"{entry!r} is not a domain",
            f"write '{domain.lstrip('*.')}': subdomains always match",
        )
    _check_domain(entry, domain)
    return domain


def parse_address_entry(entry: str, spec: ListSpec) -> str:
    """Return the entry as a lower-case address, or raise :class:`EntryError`."""
    if "<" in entry or ">" in entry:
        inner = entry[entry.find("<") + 1 :].split(">")[0].strip()
        raise EntryError(f"{entry!r} is not a bare address", f"write '{inner}'", entry.find("<"))
    local, at, domain = entry.casefold().rpartition("@")
    if not at:
        hint = "keep domains in a domains list" if "." in entry else "write e.g. alice@example.com"
        raise EntryError(f"{entry!r} is not an address (no '@')", hint)
    if not local or any(c.isspace() for c in local):
        raise EntryError(f"{entry!r} is not an address", "write e.g. alice@example.com")
    try:
        _check_domain(domain, domain.rstrip("."))
    except EntryError as exc:
        raise EntryError(
            f"{entry!r} is not an address: its domain {domain!r} is not a domain",
            "write e.g. alice@example.com",
            len(local) + 1 + exc.offset,
        ) from None
    return f"{local}@{domain.rstrip('.')}"


def parse_string_entry(entry: str, spec: ListSpec) -> str:
    """Return the entry as compared: folded unless the list is case-sensitive."""
    return entry if spec.case_sensitive else entry.casefold()


def parse_regex_entry(entry: str, spec: ListSpec) -> Any:
    """Return the entry compiled with RE2, or raise :class:`EntryError` pointing into it."""
    try:
        return compile_regex(entry, case_sensitive=spec.case_sensitive)
    except PatternError as exc:
        message = str(exc)
        hint = "regexes are RE2 syntax (see docs/rules.md, 'Regex safety')"
        raise EntryError(message, hint, _regex_offset(entry, message)) from None


def _regex_offset(entry: str, message: str) -> int:
    """Return where in ``entry`` RE2's complaint points (0 when it cannot tell)."""
    for marker in _LOOKAROUND:
        if marker in entry:
            return entry.find(marker)
    backref = re.search(r"\\[1-9]", entry)
    if backref is not None:
        return backref.start()
    detail = message.partition(" does not compile: ")[2]
    if detail.startswith("trailing \\"):
        return len(entry) - 1
    if detail.startswith(("missing )", "missing ]", "unexpected )")):
        return _unbalanced(entry, detail.split(":", 1)[0][-1])
    fragment = detail.rpartition(": ")[2]
    return max(entry.find(fragment), 0) if fragment else 0


def _unbalanced(entry: str, closing: str) -> int:
    """Return the offset of the unclosed ``(``/``[`` (``closing`` is ``)``/``]``) or stray ``)``."""
    opened: list[int] = []
    stray: int | None = None
    in_class = escaped = False
    for i, char in enumerate(entry):
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif in_class:
            if char == "]" and (not opened or i > opened[-1] + 1):
                in_class = False
                opened.pop()
        elif char == "[":
            in_class = True
            opened.append(i)
        elif char == "(":
            opened.append(i)
        elif char == ")":
            if opened:
                opened.pop()
            elif stray is None:
                stray = i
    if closing == ")" and stray is not None:
        return stray
    return opened[-1] if opened else 0


_PARSERS = {
    "domains": parse_domain_entry,
    "addresses": parse_address_entry,
    "strings": parse_string_entry,
    "regexes": parse_regex_entry,
}
