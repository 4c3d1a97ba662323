"""Where an unclosed YAML flow collection (``[`` or ``{``) was opened.

PyYAML notices a ``[`` that is never closed only where the text ends (or
where the next thing cannot follow), which points the user at the last line
of the file. This scan finds the opening bracket itself. It follows flow
brackets outside quoted strings and comments; it is used only to place an
error PyYAML has already found, never to decide whether the YAML is valid.
"""

from __future__ import annotations

OPENERS = {"[": "]", "{": "}"}


def unclosed_bracket(text: str, end: int | None = None) -> tuple[int, int, str] | None:
    """Return (line, column, bracket) of the innermost ``[``/``{`` still open at ``end``.

    Lines and columns are 1-based; ``end`` is a character index (default: the
    whole text). Returns None when every bracket before ``end`` is closed.
    """
    stack: list[tuple[int, int, str]] = []
    line, column = 1, 0
    quote: str | None = None
    comment = False
    previous = "\n"
    limit = len(text) if end is None else min(end, len(text))
    i = 0
    while i < limit:
        char = text[i]
        column += 1
        if char == "\n":
            line, column, comment = line + 1, 0, False
            if quote is None:
                previous = char
            i += 1
            continue
        if comment:
            pass
        elif quote is not None:
            if quote == '"' and char == "\\":
                i += 1
                column += 1
            elif char == quote:
                if quote == "'" and i + 1 < limit and text[i + 1] == "'":
                    i += 1  # '' is an escaped quote inside '...'
                    column += 1
                else:
                    quote = None
        elif char == "#" and previous in " \t\n":
            comment = True
        elif char in "\"'" and previous in " \t\n[{,:":
            quote = char
        elif char in OPENERS:
            stack.append((line, column, char))
        elif stack and char == OPENERS[stack[-1][2]]:
            stack.pop()
        previous = char
        i += 1
    return stack[-1] if stack else None
