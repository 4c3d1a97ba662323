"""Safe pattern matchers: RE2 regular expressions and shell-style globs.

User patterns run inside an unattended daemon, so two bounds apply:

* every pattern is compiled with RE2 (``google-re2``), whose matching time is
  linear in the input: no pattern, however written, can backtrack
  catastrophically. Features that need backtracking (backreferences,
  lookahead/lookbehind) are rejected when the rules are validated;
* every value handed to a regex or glob is cut to :data:`MAX_MATCH_INPUT`
  characters first, so the linear time has a fixed ceiling too.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import re2

MAX_MATCH_INPUT = 64 * 1024
"""Longest prefix of a value (in characters) that a regex or glob looks at."""

# RE2 compiles to an automaton whose size we also bound, so a pathological
# pattern is refused at load time instead of eating memory.
_MAX_PROGRAM_MEMORY = 8 << 20

REGEX_FLAGS = {"ignorecase": "i", "multiline": "m", "dotall": "s"}


class PatternError(ValueError):
    """A pattern that RE2 cannot compile; the message says why in plain words."""


def _options(case_sensitive: bool) -> Any:
    options = re2.Options()
    options.case_sensitive = case_sensitive
    options.log_errors = False
    options.max_mem = _MAX_PROGRAM_MEMORY
    return options


def _explain_re2_error(pattern: str, exc: Exception) -> str:
    raw = exc.args[0] if exc.args else str(exc)
    detail = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
    unsupported = ("(?=", "(?!", "(?<=", "(?<!", "\\1", "\\2", "(?P=", "\\k<")
    if any(marker in detail or marker in pattern for marker in unsupported):
        return (
            f"regex '{pattern}' uses a feature RE2 does not support ({detail}); "
            "backreferences and lookahead/lookbehind need backtracking, which could hang "
            "the daemon"
        )
    return f"regex '{pattern}' does not compile: {detail}"


def compile_regex(pattern: str, *, case_sensitive: bool, flags: Sequence[str] = ()) -> Any:
    """Compile ``pattern`` with RE2.

    Given the pattern, whether case matters, and flag names from
    :data:`REGEX_FLAGS`. Returns the compiled RE2 object.

    Raises:
        PatternError: the pattern is invalid or uses an unsupported feature.
    """
    inline = "".join(sorted({REGEX_FLAGS[f] for f in flags if f != "ignorecase"}))
    if "ignorecase" in flags:
        case_sensitive = False
    text = f"(?{inline}){pattern}" if inline else pattern
    try:
        return re2.compile(text, _options(case_sensitive))
    except re2.error as exc:
        raise PatternError(_explain_re2_error(pattern, exc)) from None


def glob_to_regex(glob: str) -> str:
    """Translate a shell glob to an RE2 pattern matching the whole value.

    ``*`` matches any run of characters (including none), ``?`` one character,
    ``[abc]``/``[a-z]`` one of a set and ``[!abc]`` one not in it; everything
    else is literal.
    """
    out: list[str] = []
    i, n = 0, len(glob)
    while i < n:
        char = glob[i]
        if char == "*":
            out.append(".*")
        elif char == "?":
            out.append(".")
        elif char == "[":
            start = i + 1
            if start < n and glob[start] == "!":
                start += 1
            # A "]" right after the opening bracket is a literal member.
            end = glob.find("]", start + 1 if start < n and glob[start] == "]" else start)
            if end == -1:
                out.append(re2.escape("["))
            else:
                negate = "^" if glob[i + 1] == "!" else ""
                body = glob[start:end].replace("\\", "\\\\").replace("[", "\\[")
                body = body.replace("]", "\\]").replace("^", "\\^")
                out.append(f"[{negate}{body}]")
                i = end
        else:
            out.append(re2.escape(char))
        i += 1
    return "(?s)" + "".join(out)


def compile_glob(glob: str, *, case_sensitive: bool) -> Any:
    """Compile a glob (see :func:`glob_to_regex`) with RE2.

    Raises:
        PatternError: the glob's character class is invalid (e.g. ``[z-a]``).
    """
    try:
        return re2.compile(glob_to_regex(glob), _options(case_sensitive))
    except re2.error as exc:
        raw = exc.args[0] if exc.args else exc
        detail = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else str(raw)
        raise PatternError(f"glob '{glob}' is invalid: {detail}") from None


def regex_predicate(patterns: Sequence[Any]) -> Callable[[str], bool]:
    """Return a test: does any compiled regex match somewhere in the (cut) value."""
    if len(patterns) == 1:
        search = patterns[0].search
        return lambda value: search(value[:MAX_MATCH_INPUT]) is not None
    searches = tuple(p.search for p in patterns)

    def test(value: str) -> bool:
        cut = value[:MAX_MATCH_INPUT]
        return any(s(cut) is not None for s in searches)

    return test


def glob_predicate(patterns: Sequence[Any]) -> Callable[[str], bool]:
    """Return a test: does any compiled glob match the whole (cut) value."""
    matches = tuple(p.fullmatch for p in patterns)

    def test(value: str) -> bool:
        cut = value[:MAX_MATCH_INPUT]
        return any(m(cut) is not None for m in matches)

    return test
