"""Matches over time as a stacked bar chart: the geometry, computed here (pure numbers).

Each rule has its colour; its segment of a bar is split by kind: messages
``applied`` (solid), ``held`` back (awaiting promotion, would apply, held by
a rail: light) and the ``other`` outcomes (already tagged, failed, dropped,
expired: faint), so what was applied never hides behind what was only audited.

The markup is drawn by the ``chart`` macro of ``templates/chart.html.j2``
(an inline SVG: no external assets), which escapes every text it writes;
this module only says where each bar and label goes, in SVG user units.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

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
PLOT_W, PLOT_H = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
# At most about this many time labels under the axis, so they do not overlap.
LABELS = 8


def colour(index: int) -> str:
    """Return the colour of the ``index``-th rule (the palette repeats)."""
    return PALETTE[index % len(PALETTE)]


# How opaque each kind of segment is drawn (see module docstring).
KINDS = {"applied": 1.0, "held": 0.45, "other": 0.2}


@dataclass(frozen=True, slots=True)
class Bar:
    """One rule's segment of one kind in one bucket's bar: ``count`` messages in ``colour``."""

    rule: str
    count: int
    colour: str
    x: float
    y: float
    width: float
    height: float
    kind: str = "applied"
    opacity: float = 1.0


@dataclass(frozen=True, slots=True)
class Column:
    """One time bucket: its stacked segments (bottom first) and its label.

    ``centre`` is where the label goes; ``labelled`` says whether it is
    written (only every few buckets are, so labels never overlap).
    """

    bucket: datetime
    label: str
    centre: float
    labelled: bool
    bars: tuple[Bar, ...]


@dataclass(frozen=True, slots=True)
class Chart:
    """The whole chart: the axes' geometry, the tallest bar's total and the columns."""

    unit: str
    peak: int
    columns: tuple[Column, ...]
    width: int = WIDTH
    height: int = HEIGHT
    left: int = LEFT
    right: int = WIDTH - RIGHT
    top: int = TOP
    baseline: int = TOP + PLOT_H
    label_y: int = HEIGHT - BOTTOM + 16


def _label(bucket: datetime, step: timedelta) -> str:
    return f"{bucket:%m-%d}" if step >= timedelta(days=1) else f"{bucket:%m-%d %H:00}"


def layout(
    buckets: Sequence[datetime],
    series: Sequence[tuple[str, Mapping[str, Sequence[int]]]],
    step: timedelta,
) -> Chart | None:
    """Return the chart: one stacked bar per bucket, one colour per rule, a shade per kind.

    Given the bucket start times, each rule's counts per bucket by kind (in
    legend order, so that ``colour(i)`` is the ``i``-th rule's; kinds as in
    :data:`KINDS`) and the bucket size. Returns None when there is no bucket
    (nothing dated to chart).
    """
    if not buckets:
        return None
    totals = [
        sum(counts[i] for _, kinds in series for counts in kinds.values())
        for i in range(len(buckets))
    ]
    peak = max(max(totals), 1)
    slot = PLOT_W / len(buckets)
    bar = max(1.0, slot * 0.8)
    every = max(1, len(buckets) // LABELS)
    columns = []
    for i, bucket in enumerate(buckets):
        x = LEFT + i * slot + (slot - bar) / 2
        y: float = TOP + PLOT_H
        bars = []
        for index, (rule, kinds) in enumerate(series):
            for kind, opacity in KINDS.items():
                count = kinds[kind][i] if kind in kinds else 0
                if not count:
                    continue
                h = PLOT_H * count / peak
                y -= h
                bars.append(Bar(rule, count, colour(index), x, y, bar, h, kind, opacity))
        columns.append(
            Column(
                bucket=bucket,
                label=_label(bucket, step),
                centre=LEFT + i * slot + slot / 2,
                labelled=i % every == 0,
                bars=tuple(bars),
            )
        )
    unit = "day" if step >= timedelta(days=1) else "hour"
    return Chart(unit=unit, peak=peak, columns=tuple(columns))
