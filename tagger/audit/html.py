"""One self-contained HTML page from a :class:`~tagger.audit.summary.Summary`.

No external assets: the CSS, the sorting script and the chart (SVG) are
inline, and a Content-Security-Policy forbids loading anything else and any
script but ours (allowed by its hash). Subjects, addresses and every other
value taken from mail are attacker-controlled: each is escaped with
:func:`html.escape` where it is written, and never placed in a script.
Every figure sits in an element with ``data-rule``/``data-field`` so tests
and tools can read the numbers back.
"""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterable, Sequence
from datetime import UTC, datetime
from html import escape

from tagger.audit.chart import colour, svg_chart
from tagger.audit.explanation import explanation_lines
from tagger.audit.records import AuditRecord
from tagger.audit.summary import OUTCOMES, RuleSummary, Summary

STYLE = """
:root { color-scheme: light; --line: #d0d7de; --muted: #57606a; }
body { font: 14px/1.45 system-ui, -apple-system, "Segoe UI", sans-serif; margin: 24px auto;
  max-width: 1100px; padding: 0 16px; color: #1f2328; }
h1 { font-size: 22px; margin: 0 0 4px; } h2 { font-size: 17px; margin: 28px 0 8px; }
h3 { font-size: 15px; margin: 18px 0 6px; }
.meta, .empty, .muted { color: var(--muted); }
table { border-collapse: collapse; width: 100%; margin: 6px 0 12px; }
th, td { border-bottom: 1px solid var(--line); padding: 4px 8px; text-align: left;
  vertical-align: top; }
th { background: #f6f8fa; cursor: pointer; user-select: none; white-space: nowrap; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; }
.chart { width: 100%; height: auto; }
.axis { stroke: #8c959f; } .tick { font-size: 11px; fill: var(--muted); }
.legend span { display: inline-block; margin: 0 14px 4px 0; }
.swatch { display: inline-block; width: 10px; height: 10px; margin-right: 4px; }
.subject { min-width: 180px; overflow-wrap: anywhere; }
table.domains { width: auto; min-width: 320px; }
.when { white-space: nowrap; }
.mid { font: 11px ui-monospace, monospace; max-width: 170px; overflow-wrap: anywhere; }
.addr { overflow-wrap: anywhere; max-width: 220px; }
details pre { white-space: pre-wrap; font-size: 12px; background: #f6f8fa; padding: 6px;
  margin: 4px 0; }
.outcome-failed { color: #cf222e; font-weight: 600; }
.cards { display: flex; gap: 12px; flex-wrap: wrap; margin: 12px 0; }
.card { border: 1px solid var(--line); border-radius: 6px; padding: 8px 14px; }
.card b { display: block; font-size: 20px; }
"""

# Sorts a table by the clicked column (numbers numerically); marks the page ready.
SCRIPT = """
document.documentElement.setAttribute("data-ready", "1");
document.querySelectorAll("table.sortable th").forEach(function (th) {
  th.addEventListener("click", function () {
    var table = th.closest("table");
    var body = table.tBodies[0];
    var index = Array.prototype.indexOf.call(th.parentNode.children, th);
    var down = th.dataset.sorted !== "down";
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = a.cells[index].textContent, y = b.cells[index].textContent;
      var nx = parseFloat(x), ny = parseFloat(y);
      var c = (!isNaN(nx) && !isNaN(ny)) ? nx - ny : x.localeCompare(y);
      return down ? -c : c;
    });
    rows.forEach(function (row) { body.appendChild(row); });
    th.dataset.sorted = down ? "down" : "up";
  });
});
"""


def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _time(value: datetime | None) -> str:
    return f"{value.astimezone(UTC):%Y-%m-%d %H:%M:%S}Z" if value is not None else ""


def _csp() -> str:
    digest = base64.b64encode(hashlib.sha256(SCRIPT.encode("utf-8")).digest()).decode("ascii")
    return (
        "default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
        f"script-src 'sha256-{digest}'; base-uri 'none'; form-action 'none'"
    )


def _num(rule: str, field: str, value: int) -> str:
    return f'<td class="num" data-rule="{_e(rule)}" data-field="{field}">{value}</td>'


def _rules_table(rules: Sequence[RuleSummary]) -> str:
    head = "".join(f'<th class="num">{o}</th>' for o in OUTCOMES)
    rows = []
    for r in rules:
        tags = ", ".join(f"{t} ({n})" for t, n in r.tags.items())
        about = r.meta.description
        if r.meta.owner:
            about += f" — owner: {r.meta.owner}"
        cells = "".join(_num(r.rule, o, r.outcomes.get(o, 0)) for o in OUTCOMES)
        rows.append(
            f'<tr><td><a href="#rule-{_e(r.rule)}">{_e(r.rule)}</a>'
            f'<div class="muted">{_e(about)}</div></td>'
            f"{_num(r.rule, 'matches', r.matches)}{cells}<td>{_e(tags)}</td>"
            f'<td class="muted">{_e(", ".join(h[:12] for h in r.hashes))}</td></tr>'
        )
    return (
        '<table class="sortable" id="rules"><thead><tr><th>rule</th>'
        f'<th class="num">matches</th>{head}<th>tags</th><th>rule hash</th></tr></thead>'
        f"<tbody>{''.join(rows)}</tbody></table>"
    )


def _legend(rules: Sequence[RuleSummary]) -> str:
    items = "".join(
        f'<span><i class="swatch" style="background:{colour(i)}"></i>{_e(r.rule)}</span>'
        for i, r in enumerate(rules)
    )
    return f'<div class="legend">{items}</div>'


def _domains(rule: RuleSummary) -> str:
    if not rule.domains:
        return '<p class="empty">No matches.</p>'
    rows = "".join(
        f"<tr><td>{_e(domain)}</td>"
        f'<td class="num" data-rule="{_e(rule.rule)}" data-domain="{_e(domain)}">{n}</td></tr>'
        for domain, n in rule.domains
    )
    return (
        '<table class="sortable domains"><thead><tr><th>sender domain</th>'
        f'<th class="num">matches</th></tr></thead><tbody>{rows}</tbody></table>'
    )


def _sample_row(record: AuditRecord) -> str:
    explanation = "\n".join(explanation_lines(record.explanation))
    why = (
        f"<details><summary>why</summary><pre>{_e(explanation)}</pre></details>"
        if explanation
        else ""
    )
    error = f'<div class="outcome-failed">{_e(record.error)}</div>' if record.error else ""
    return (
        f'<tr><td class="when">{_e(_time(record.received))}</td>'
        f'<td class="addr">{_e(record.sender)}</td>'
        f'<td class="addr">{_e(", ".join(record.recipients))}</td>'
        f'<td class="subject">{_e(record.subject)}</td>'
        f'<td class="outcome-{_e(record.outcome)}">{_e(record.outcome)} ({_e(record.mode)})'
        f"{error}</td><td>{_e(', '.join(record.tags))}</td>"
        f'<td class="mid">{_e(record.message_id)}{why}</td></tr>'
    )


def _rule_section(rule: RuleSummary) -> str:
    meta = rule.meta
    facts = [
        f"{label}: {_e(value)}"
        for label, value in (
            ("owner", meta.owner),
            ("created", meta.created),
            ("modified", meta.modified),
        )
        if value
    ]
    refs = "".join(f"<li>{_e(ref)}</li>" for ref in meta.references)
    about = (
        (f"<p>{_e(meta.description)}</p>" if meta.description else "")
        + (f'<p class="meta">{" · ".join(facts)}</p>' if facts else "")
        + (f'<ul class="meta">{refs}</ul>' if refs else "")
    )
    sample = (
        '<table class="sortable sample"><thead><tr><th>received</th><th>from</th><th>to</th>'
        "<th>subject</th><th>outcome</th><th>tags</th><th>message</th></tr></thead>"
        f"<tbody>{''.join(_sample_row(r) for r in rule.sample)}</tbody></table>"
        if rule.sample
        else '<p class="empty">No matches.</p>'
    )
    return (
        f'<section id="rule-{_e(rule.rule)}"><h3>{_e(rule.rule)} — {rule.matches} matches</h3>'
        f"{about}<h4>Top sender domains</h4>{_domains(rule)}"
        f"<h4>Latest matches ({len(rule.sample)} of {rule.matches})</h4>{sample}</section>"
    )


def render_html(summary: Summary, sources: Iterable[str], generated: datetime) -> str:
    """Return the whole HTML document for ``summary``.

    ``sources`` name the audit files read; ``generated`` is shown as the time
    the report was made.
    """
    span = (
        f"{_time(summary.first)} — {_time(summary.last)}" if summary.first else "no dated entries"
    )
    modes = ", ".join(f"{n} {m}" for m, n in summary.modes.items()) or "none"
    cards = "".join(
        f'<div class="card"><b data-field="{key}">{value}</b>{label}</div>'
        for key, value, label in (
            ("total", summary.total, "matches"),
            ("messages", summary.messages, "messages"),
            ("rules", len(summary.rules), "rules"),
            ("runs", summary.runs, "runs"),
        )
    )
    series = [(r.rule, r.series) for r in summary.rules]
    step = "day" if summary.step.days >= 1 else "hour"
    return (
        "<!DOCTYPE html>\n"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="Content-Security-Policy" content="{_e(_csp())}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        "<title>tagger audit report</title>"
        f"<style>{STYLE}</style></head><body>"
        "<h1>tagger audit report</h1>"
        f'<p class="meta">{_e(span)} · modes: {_e(modes)} · accounts: '
        f"{_e(', '.join(summary.accounts) or '—')}<br>files: "
        f"{_e(', '.join(sources))} · generated {_e(_time(generated))}</p>"
        f'<div class="cards">{cards}</div>'
        f"<h2>Matches per rule</h2>{_rules_table(summary.rules)}"
        f"<h2>Matches per {step}</h2>{_legend(summary.rules)}"
        f"{svg_chart(summary.buckets, series, summary.step)}"
        "<h2>Rules</h2>"
        f"{''.join(_rule_section(r) for r in summary.rules)}"
        f"<script>{SCRIPT}</script></body></html>\n"
    )
