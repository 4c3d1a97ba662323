"""The manual page's FIELDS section: the rule field reference in roff.

Generated from the catalogue (:func:`tagger.rules.reference.field_docs`), as
``tagger fields`` prints it, so an installed package documents its own rule
language without the source tree's ``docs/``.
"""

from __future__ import annotations

from collections.abc import Callable

from tagger.rules.reference import field_docs


def field_section(roff: Callable[[str], str]) -> list[str]:
    """Return the roff lines of the FIELDS section, escaping text with ``roff``."""
    lines = [
        ".SH FIELDS",
        "The fields a rule condition can test (\\fBtagger fields\\fR prints the same, and",
        "\\fBtagger fields \\-\\-json\\fR as data). \\fIinfo\\fR fields need",
        "get\\-message\\-info; \\fIsearch\\fR fields are read from the search result.",
    ]
    for doc in field_docs():
        lines += [".TP", f"\\fB{roff(doc.name)}\\fR ({roff(doc.type_name)}; from {doc.source})"]
        lines.append(roff(doc.description))
        lines += [".br", "JSON: " + roff(doc.json_path)]
        lines += [".br", "Operators: " + roff(", ".join(doc.operators))]
        if doc.values:
            shown = "; ".join(f"{v} ({m})" if m else v for v, m in doc.values)
            head = "Values" if doc.strict else "Known values"
            lines += [".br", f"{head}: " + roff(shown)]
    return lines
