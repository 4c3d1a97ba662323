"""Aggregate audit records into what a reviewer reads (pure: data in, data out).

Everything counts distinct messages and tags, never lines: the records are
first folded into one match per (account, message, rule) with its outcomes
side by side (:mod:`tagger.audit.matches`), and each match counts once, under
the outcome that stands. Per rule: messages and tags, messages by outcome,
tags, the top sender domains, messages per time bucket (applied apart from
held back) and a sample of the latest matches; overall: the span covered,
the modes, accounts and runs seen. The HTML and the text summary are both
drawn from one :class:`Summary`, so they cannot disagree.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from tagger.audit.matches import Match, fold
from tagger.audit.records import AuditRecord
from tagger.words import plural

# would-apply: a dry run; audit: an audit-only match (a mode: audit rule, or one
# awaiting promotion: applied once promoted); held: paused rule or kill switch
# (applied once lifted); dropped / expired: a held pair never to be applied
# (released from now on or the rule changed / older than the service's tracking
# retention); applying: an apply's write-ahead record that no later entry
# settles (the run ended before writing its outcome; the next run checks the message).
OUTCOMES = (
    "applied",
    "would-apply",
    "audit",
    "held",
    "already-tagged",
    "failed",
    "dropped",
    "expired",
    "applying",
)
# How outcomes and modes are shown: one word, audit-only, for the audit idea
# everywhere (the records keep "audit").
LABELS = {"audit": "audit-only"}


def label(word: str) -> str:
    """Return how an outcome or mode is shown (``audit`` is ``audit-only``). Pure."""
    return LABELS.get(word, word)


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
    status: str = ""
    level: str = ""
    author: str = ""
    falsepositives: tuple[str, ...] = ()
    # The rule's state from the state file (enforcing, awaiting promotion since…,
    # paused since… with why, the hash promoted); empty when not read.
    state: str = ""

    def graded(self) -> str:
        """Return the level, status and owner for one line (``level high · status test``)."""
        parts = [(k, getattr(self, k)) for k in ("level", "status", "owner")]
        return " · ".join(f"{k} {v}" for k, v in parts if v)


@dataclass(frozen=True, slots=True)
class RuleSummary:
    """The figures of one rule.

    ``matches`` counts distinct messages (per account), ``pairs`` distinct
    (message, tag) pairs; ``outcomes`` counts messages by the outcome that
    stands; ``series`` messages per time bucket, split into ``applied`` and
    ``held`` (awaiting promotion, would apply, held by a rail).
    """

    rule: str
    matches: int
    outcomes: Mapping[str, int]
    modes: Mapping[str, int]
    tags: Mapping[str, int]
    domains: tuple[tuple[str, int], ...]
    series: tuple[int, ...]
    sample: tuple[Match, ...]
    hashes: tuple[str, ...]
    meta: RuleMeta = field(default_factory=RuleMeta)
    pairs: int = 0
    applied: tuple[int, ...] = ()
    held: tuple[int, ...] = ()


@dataclass(frozen=True, slots=True)
class Summary:
    """Everything a report shows.

    ``buckets`` are the start times of the time buckets (``step`` apart)
    that every rule's ``series`` counts matches in; ``rules`` are sorted by
    matches, most first (then by id). ``total`` counts matches (a message
    once per rule), ``messages`` distinct messages, ``pairs`` distinct
    (message, tag) pairs and ``entries`` the lines read.
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
    pairs: int = 0
    entries: int = 0


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
    matches = fold(items)
    meta = meta or {}
    times = [w.astimezone(UTC) for m in matches if (w := m.record.when) is not None]
    buckets, step = _buckets(times)
    index = {b: i for i, b in enumerate(buckets)}
    by_rule: dict[str, list[Match]] = {rule: [] for rule in rules}
    for match in matches:
        by_rule.setdefault(match.record.rule, []).append(match)
    summaries = []
    for rule, mine in by_rule.items():
        series = {kind: [0] * len(buckets) for kind in ("all", "applied", "held")}
        for match in mine:
            when = match.record.when
            if when is None:
                continue
            at = index[_floor(when, step)]
            series["all"][at] += 1
            if match.kind in series:
                series[match.kind][at] += 1
        domains = Counter(m.record.sender_domain or "(no sender)" for m in mine)
        latest = sorted(mine, key=_latest_first)[:sample]
        summaries.append(
            RuleSummary(
                rule=rule,
                matches=len(mine),
                outcomes=_counts(m.outcome for m in mine),
                modes=_counts(r.mode for r in items if r.rule == rule),
                tags=_counts(t for m in mine for t in m.tags),
                domains=tuple(sorted(domains.items(), key=lambda kv: (-kv[1], kv[0]))[:top]),
                series=tuple(series["all"]),
                sample=tuple(latest),
                hashes=tuple(sorted({h for m in mine for h in m.hashes})),
                meta=meta.get(rule, RuleMeta()),
                pairs=sum(len(m.tags) or 1 for m in mine),
                applied=tuple(series["applied"]),
                held=tuple(series["held"]),
            )
        )
    summaries.sort(key=lambda s: (-s.matches, s.rule))
    return Summary(
        total=len(matches),
        rules=tuple(summaries),
        buckets=buckets,
        step=step,
        first=min(times) if times else None,
        last=max(times) if times else None,
        modes=_counts(r.mode for r in items),
        accounts=tuple(sorted({r.account for r in items if r.account})),
        runs=len({r.run_id for r in items if r.run_id}),
        messages=len({(r.account, r.message_id) for r in items}),
        pairs=len({(m.record.account, m.record.message_id, t) for m in matches for t in m.tags}),
        entries=len(items),
    )


def _counts(values: Iterable[str]) -> dict[str, int]:
    return dict(sorted(Counter(values).items()))


def _latest_first(match: Match) -> tuple[float, str]:
    when = match.record.when
    return (-when.timestamp() if when is not None else 0.0, match.record.message_id)


def text_lines(summary: Summary) -> list[str]:
    """Return the summary as plain text lines (the default output of ``tagger report``)."""
    span = (
        f"{summary.first:%Y-%m-%d %H:%M}Z to {summary.last:%Y-%m-%d %H:%M}Z"
        if summary.first and summary.last
        else "no dated entries"
    )
    modes = ", ".join(f"{n} {label(mode)}" for mode, n in summary.modes.items()) or "none"
    lines = [
        f"{plural(summary.messages, 'message')}, {plural(summary.pairs, 'tag')},"
        f" {plural(summary.total, 'rule match', 'rule matches')}"
        f" ({plural(summary.entries, 'entry')}), {span} ({modes})",
    ]
    for rule in summary.rules:
        outcomes = ", ".join(f"{n} {label(o)}" for o, n in rule.outcomes.items()) or "no matches"
        domains = ", ".join(f"{d} ({n})" for d, n in rule.domains)
        lines.append(
            f"  rule {rule.rule}: {rule.matches} messages, {rule.pairs} tags ({outcomes})"
            + (f" [{rule.meta.state}]" if rule.meta.state else "")
        )
        if rule.meta.graded():
            lines.append(f"    {rule.meta.graded()}")
        if domains:
            lines.append(f"    top sender domains: {domains}")
    return lines
