"""One self-contained HTML page from a :class:`~tagger.audit.summary.Summary`.

The page is drawn by the Jinja2 templates in ``templates/`` (shipped as
package data) with autoescaping on: subjects, addresses, rule texts and
every other value taken from mail are attacker-controlled, and each is
escaped because it is written with ``{{ }}``, not because a helper was
remembered. Nothing derived from mail or rule text is marked safe, and no
Python helper returns markup: this module gives the templates plain values
(texts, numbers, the chart's geometry) only.

No external assets: the CSS, the sorting script and the chart (SVG) are
inline, and a Content-Security-Policy forbids loading anything else and any
script but ours (allowed by its hash). Every figure sits in an element with
``data-rule``/``data-field`` so tests and tools can read the numbers back.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from jinja2 import Environment, PackageLoader, StrictUndefined

from tagger.audit.chart import colour, layout
from tagger.audit.explanation import explanation_lines
from tagger.audit.summary import OUTCOMES, Summary, label

# NUL is not allowed in an HTML page, and a lone surrogate (JSON can carry
# one: "\udcff") cannot be written as UTF-8 at all: both are shown as U+FFFD.
UNWRITABLE = re.compile("[\x00\ud800-\udfff]")


def _time(value: datetime | None) -> str:
    """Return ``value`` as UTC, to the second (empty for None)."""
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M:%S}Z" if value is not None else ""


def _comma(values: Iterable[object]) -> str:
    """Return ``values`` joined by commas, as plain text (escaped when written)."""
    return ", ".join(str(v) for v in values)


def _explain(explanation: Any) -> str:
    """Return a stored explanation as indented lines of plain text (empty when none)."""
    return "\n".join(explanation_lines(explanation))


def _writable(value: Any) -> Any:
    """Finalize every ``{{ }}`` value: text loses what a UTF-8 page cannot hold.

    Markup (a macro's output, known by its ``__html__``) was made of values
    already finalized, and is returned as it is; so is anything not text.
    """
    if isinstance(value, str) and not hasattr(value, "__html__"):
        return UNWRITABLE.sub("\ufffd", value)
    return value


@functools.cache
def environment() -> Environment:
    """Return the templates' environment (made once): autoescaping, strict undefined."""
    env = Environment(
        loader=PackageLoader("tagger.audit", "templates"),
        autoescape=True,
        undefined=StrictUndefined,
        finalize=_writable,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters.update(utc=_time, comma=_comma, explain=_explain, label=label)
    env.globals.update(colour=colour)
    return env


@functools.cache
def csp() -> str:
    """Return the page's Content-Security-Policy: nothing external, only our script."""
    script = environment().get_template("report.js").render()
    digest = base64.b64encode(hashlib.sha256(script.encode("utf-8")).digest()).decode("ascii")
    return (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        f"script-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'"
    )


def render_html(summary: Summary, sources: Iterable[str], generated: datetime) -> str:
    """Return the whole HTML document for ``summary``.

    ``sources`` name the audit files read; ``generated`` is shown as the time
    the report was made. Raises jinja2.TemplateError only when a template is
    broken (a bug, not a matter of the data).
    """
    span = (
        f"{_time(summary.first)} — {_time(summary.last)}" if summary.first else "no dated entries"
    )
    modes = ", ".join(f"{n} {label(m)}" for m, n in summary.modes.items()) or "none"
    cards = (
        ("messages", summary.messages, "messages"),
        ("pairs", summary.pairs, "tags"),
        ("total", summary.total, "rule matches"),
        ("rules", len(summary.rules), "rules"),
        ("runs", summary.runs, "runs"),
        ("entries", summary.entries, "audit entries"),
    )
    series = [
        (
            r.rule,
            {
                "applied": r.applied,
                "held": r.held,
                "other": tuple(
                    a - b - c for a, b, c in zip(r.series, r.applied, r.held, strict=True)
                ),
            },
        )
        for r in summary.rules
    ]
    page = environment().get_template("report.html.j2")
    return page.render(
        summary=summary,
        sources=list(sources),
        generated=generated,
        csp=csp(),
        span=span,
        modes=modes,
        cards=cards,
        outcomes=OUTCOMES,
        unit="day" if summary.step.days >= 1 else "hour",
        layout=layout(summary.buckets, series, summary.step),
    )
