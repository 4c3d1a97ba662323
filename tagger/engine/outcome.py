"""What happens to each message of a cycle once it is judged: processed marks and failures.

Messages are marked processed per query (so a query searched later, e.g. a
rule with its own schedule, still judges mail other queries found); a message
that failed holds its query's watermark back, and one that keeps failing
permanently is set aside.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import NamedTuple

import structlog

from tagger.engine.queries import group_queries
from tagger.engine.report import CycleReport
from tagger.mimecast.models import TrackedEmail
from tagger.rules import RuleSet
from tagger.state.api import StateAPI

log = structlog.get_logger("tagger.engine")


@dataclass
class Candidate:
    """A message found this cycle, the rules whose searches found it, and their queries."""

    summary: TrackedEmail
    rule_ids: set[str] = field(default_factory=set)
    queries: set[str] = field(default_factory=set)


class Failure(NamedTuple):
    """Why a message could not be finished this cycle.

    ``transient`` is the client's ``retryable`` verdict on the last error: true
    for 429s, 5xx and network errors that outlasted its retries.
    """

    error: str
    transient: bool


def query_mark(ruleset: RuleSet, query_key: str) -> str:
    """Return the key under which messages are marked processed for one query.

    Given the rule set and the query's key: the rule set's content hash (a
    changed rule set judges everything again) plus a digest of the query key.
    """
    digest = hashlib.sha256(query_key.encode("utf-8")).hexdigest()[:16]
    return f"{ruleset.content_hash}:{digest}"


def judged_before(
    state: StateAPI, account: str, ruleset: RuleSet, candidates: Mapping[str, Candidate]
) -> set[str]:
    """Return the ids of candidates every query that found them has already judged.

    Marks are kept per query, so mail found by other queries while a query's
    search was skipped (its rule schedule not due) is still judged by that
    query's rules when it runs. Each candidate's rules are widened to those of
    every query that judged it before: evaluated together again, a
    higher-priority ``stop`` rule still holds (its tags are recorded, so they
    are not applied twice).
    """
    ids = list(candidates)
    every = group_queries(ruleset)
    marked = {q.key: state.processed_ids(account, query_mark(ruleset, q.key), ids) for q in every}
    rules_of = {q.key: q.rules for q in every}
    done: set[str] = set()
    for mid, cand in candidates.items():
        before = {key for key, judged in marked.items() if mid in judged}
        for key in before:
            cand.rule_ids.update(r.id for r in rules_of[key])
        if cand.queries <= before:
            done.add(mid)
    return done


def settle(
    state: StateAPI,
    account: str,
    ruleset: RuleSet,
    chunk: Sequence[Candidate],
    failures: Mapping[str, Failure],
    max_failures: int,
    report: CycleReport,
    at: datetime,
) -> set[str]:
    """Mark finished messages processed; count failures and set aside repeat offenders.

    Only permanent failures (the service said retrying cannot help) count towards
    set-aside: a transient one (429 quota, 5xx, network) after the client's own
    retries holds the watermark back but never sets a message aside, so an
    outage longer than ``max_failures`` cycles loses no tag. Returns the ids that
    failed and must hold the watermark back.
    """
    ok = [c for c in chunk if c.summary.id not in failures]
    received = {c.summary.id: c.summary.received for c in ok if c.summary.received is not None}
    for key in sorted({k for c in ok for k in c.queries}):
        ids = [c.summary.id for c in ok if key in c.queries]
        mark = query_mark(ruleset, key)
        state.mark_processed(account, mark, ids, at, received)
    ok_ids = {c.summary.id for c in ok}
    recovered = {f.message_id for f in state.failures(account) if f.set_aside_at is None} & ok_ids
    for mid in sorted(recovered):
        state.clear_failure(account, mid)
        log.info("message_recovered", account=account, message_id=mid)
    held: set[str] = set()
    for mid, failure in failures.items():
        error = failure.error
        count = state.record_failure(account, mid, error, at)
        report.failed += 1
        if count >= max_failures and not failure.transient:
            state.set_aside(account, mid, at)
            report.set_aside.append(mid)
            log.error(
                "message_set_aside",
                account=account,
                message_id=mid,
                attempts=count,
                error=error,
            )
        else:
            held.add(mid)
            log.warning(
                "message_failed",
                account=account,
                message_id=mid,
                attempts=count,
                transient=failure.transient,
                error=error,
            )
    return held
