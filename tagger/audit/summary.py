"""Aggregate audit records into what a reviewer reads (pure: data in, data out).

Per rule: matches by outcome, tags, the top sender domains, matches per time
bucket and a sample of the latest matches; overall: the span covered, the
modes, accounts and runs seen. The HTML and the text summary are both drawn
from one :class:`Summary`, so they cannot disagree.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tagger.audit.records import AuditRecord

# would-apply: dry run or audit-mode rule; audit: awaiting promotion; held:
# paused rule or kill switch (both applied later, once promoted or lifted);
# applying: an apply's write-ahead record that no later entry settles (the
# run ended before writing its outcome; the next run checks the message).
OUTCOMES = ("applied", "would-apply", "audit", "held", "already-tagged", "failed", "applying")
# Hourly buckets up to this span, daily ones beyond it.
HOURLY_UP_TO = timedelta(days=3)


@dataclass(frozen=True, slots=True)
class RuleMeta:
    """What the rule files say about a rule (shown when the rules are available)."""

    description: str = ""
    owner: str = ""
    references: tuple[str, ...] = ()
    created: str = ""
    modified: str = ""


@dataclass(frozen=True, slots=True)
class RuleSummary:
    """The figures of one rule."""

    rule: str
    matches: int
    outcomes: Mapping[str, int]
    modes: Mapping[str, int]
    tags: Mapping[str, int]
    domains: tuple[tuple[str, int], ...]
    series: tuple[int, ...]
    sample: tuple[AuditRecord, ...]
    hashes: tuple[str, ...]
    meta: RuleMeta = field(default_factory=RuleMeta)


@dataclass(frozen=True, slots=True)
class Summary:
    """Everything a report shows.

    ``buckets`` are the start times of the time buckets (``step`` apart)
    that every rule's ``series`` counts matches in; ``rules`` are sorted by
    matches, most first (then by id).
    """

    total: int
    rules: tuple[RuleSummary, ...]
    buckets: tuple[datetime, ...]
    step: timedelta
    first: datetime | None
    last: datetime | None
    modes: Mapping[str, int]
    accounts: tuple[str, ...]
    runs: int
    messages: int


def _floor(value: datetime, step: timedelta) -> datetime:
    value = value.astimezone(UTC)
    if step >= timedelta(days=1):
        return value.replace(hour=0, minute=0, second=0, microsecond=0)
    return value.replace(minute=0, second=0, microsecond=0)


def _buckets(times: Sequence[datetime]) -> tuple[tuple[datetime, ...], timedelta]:
    if not times:
        return (), timedelta(hours=1)
    first, last = min(times), max(times)
    step = timedelta(hours=1) if last - first <= HOURLY_UP_TO else timedelta(days=1)
    out = []
    cursor = _floor(first, step)
    while cursor <= last:
        out.append(cursor)
        cursor += step
    return tuple(out), step


def summarise(
    records: Iterable[AuditRecord],
    *,
    rules: Iterable[str] = (),
    meta: Mapping[str, RuleMeta] | None = None,
    top: int = 5,
    sample: int = 5,
) -> Summary:
    """Return the summary of ``records``.

    ``rules`` are rule ids to list even when they matched nothing; ``meta``
    gives their metadata; ``top`` is how many sender domains to list per
    rule, ``sample`` how many of the latest matches to show per rule.
    """
    items = list(records)
    meta = meta or {}
    times = [w.astimezone(UTC) for r in items if (w := r.when) is not None]
    buckets, step = _buckets(times)
    index = {b: i for i, b in enumerate(buckets)}
    by_rule: dict[str, list[AuditRecord]] = {rule: [] for rule in rules}
    for record in items:
        by_rule.setdefault(record.rule, []).append(record)
    summaries = []
    for rule, mine in by_rule.items():
        series = [0] * len(buckets)
        for record in mine:
            if record.when is not None:
                series[index[_floor(record.when, step)]] += 1
        domains = Counter(r.sender_domain or "(no sender)" for r in mine)
        latest = sorted(mine, key=_latest_first)[:sample]
        summaries.append(
            RuleSummary(
                rule=rule,
                matches=len(mine),
                outcomes=_counts(r.outcome for r in mine),
                modes=_counts(r.mode for r in mine),
                tags=_counts(t for r in mine for t in r.tags),
                domains=tuple(sorted(domains.items(), key=lambda kv: (-kv[1], kv[0]))[:top]),
                series=tuple(series),
                sample=tuple(latest),
                hashes=tuple(sorted({r.rule_hash for r in mine if r.rule_hash})),
                meta=meta.get(rule, RuleMeta()),
            )
        )
    summaries.sort(key=lambda s: (-s.matches, s.rule))
    return Summary(
        total=len(items),
        rules=tuple(summaries),
        buckets=buckets,
        step=step,
        first=min(times) if times else None,
        last=max(times) if times else None,
        modes=_counts(r.mode for r in items),
        accounts=tuple(sorted({r.account for r in items if r.account})),
        runs=len({r.run_id for r in items if r.run_id}),
        messages=len({(r.account, r.message_id) for r in items}),
    )


def _counts(values: Iterable[str]) -> dict[str, int]:
    return dict(sorted(Counter(values).items()))


def _latest_first(record: AuditRecord) -> tuple[float, str]:
    when = record.when
    return (-when.timestamp() if when is not None else 0.0, record.message_id)


def text_lines(summary: Summary) -> list[str]:
    """Return the summary as plain text lines (the default output of ``tagger report``)."""
    span = (
        f"{summary.first:%Y-%m-%d %H:%M}Z to {summary.last:%Y-%m-%d %H:%M}Z"
        if summary.first and summary.last
        else "no dated entries"
    )
    modes = ", ".join(f"{n} {mode}" for mode, n in summary.modes.items()) or "none"
    lines = [
        f"{summary.total} matches of {summary.messages} messages, {span} ({modes})",
    ]
    for rule in summary.rules:
        outcomes = ", ".join(f"{n} {o}" for o, n in rule.outcomes.items()) or "no matches"
        domains = ", ".join(f"{d} ({n})" for d, n in rule.domains)
        lines.append(f"  rule {rule.rule}: {rule.matches} matched ({outcomes})")
        if domains:
            lines.append(f"    top sender domains: {domains}")
    return lines
