"""Matches over time as an inline SVG stacked bar chart (pure text, no external assets).

Every bar segment carries ``data-rule``, ``data-bucket`` and ``data-count``
attributes and a ``<title>`` tooltip, so the figures can be read back from the
page; every text taken from the data is escaped.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from html import escape

PALETTE = (
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#7f7f7f",
    "#bcbd22",
    "#17becf",
)
WIDTH, HEIGHT = 960, 280
LEFT, RIGHT, TOP, BOTTOM = 48, 12, 12, 40


def colour(index: int) -> str:
    """Return the colour of the ``index``-th rule (the palette repeats)."""
    return PALETTE[index % len(PALETTE)]


def _label(bucket: datetime, step: timedelta) -> str:
    return f"{bucket:%m-%d}" if step >= timedelta(days=1) else f"{bucket:%m-%d %H:00}"


def svg_chart(
    buckets: Sequence[datetime], series: Sequence[tuple[str, Sequence[int]]], step: timedelta
) -> str:
    """Return an ``<svg>`` element: one stacked bar per bucket, one colour per rule.

    Given the bucket start times, each rule's counts per bucket (in legend
    order) and the bucket size.
    """
    if not buckets:
        return '<p class="empty">No dated matches to chart.</p>'
    totals = [sum(s[i] for _, s in series) for i in range(len(buckets))]
    peak = max(max(totals), 1)
    plot_w, plot_h = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_w / len(buckets)
    bar = max(1.0, slot * 0.8)
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
        f'role="img" aria-label="matches per {"day" if step >= timedelta(days=1) else "hour"}" '
        'class="chart">',
        f'<line x1="{LEFT}" y1="{TOP + plot_h}" x2="{WIDTH - RIGHT}" y2="{TOP + plot_h}" '
        'class="axis"/>',
        f'<line x1="{LEFT}" y1="{TOP}" x2="{LEFT}" y2="{TOP + plot_h}" class="axis"/>',
        f'<text x="{LEFT - 6}" y="{TOP + 4}" text-anchor="end" class="tick">{peak}</text>',
        f'<text x="{LEFT - 6}" y="{TOP + plot_h}" text-anchor="end" class="tick">0</text>',
    ]
    every = max(1, len(buckets) // 8)
    for i, bucket in enumerate(buckets):
        x = LEFT + i * slot + (slot - bar) / 2
        y: float = TOP + plot_h
        for index, (rule, counts) in enumerate(series):
            count = counts[i]
            if not count:
                continue
            h = plot_h * count / peak
            y -= h
            tip = f"{rule}: {count} at {_label(bucket, step)}"
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{colour(index)}" data-rule="{escape(rule)}" '
                f'data-bucket="{bucket.isoformat()}" data-count="{count}">'
                f"<title>{escape(tip)}</title></rect>"
            )
        if i % every == 0:
            parts.append(
                f'<text x="{LEFT + i * slot + slot / 2:.1f}" y="{HEIGHT - BOTTOM + 16}" '
                f'text-anchor="middle" class="tick">{_label(bucket, step)}</text>'
            )
    parts.append("</svg>")
    return "".join(parts)
