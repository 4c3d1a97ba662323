"""Dry-run state: reads fall through to a base store, writes stay in memory.

A dry run executes the same cycle as a live run, so it must be able to
"record" applications, advance watermarks and count failures — and see its own
writes within the run — while the state file stays byte-for-byte unchanged.
The base may be opened read-only or without the lock.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Mapping
from dataclasses import replace
from datetime import datetime

from tagger.state.api import StateAPI
from tagger.state.errors import StateError
from tagger.state.rows import AppliedRow, FailureRow, RunRow, SearchCapRow
from tagger.state.times import to_us


class OverlayState:
    """A :class:`StateAPI` that never writes to its ``base``."""

    def __init__(self, base: StateAPI) -> None:
        self.base = base
        self._mutex = threading.RLock()
        self._applied: dict[tuple[str, str, str], AppliedRow] = {}
        self._processed: dict[tuple[str, str, str], datetime] = {}
        self._watermarks: dict[tuple[str, str], datetime] = {}
        self._backfill: dict[tuple[str, str], datetime] = {}
        self._caps: dict[str, SearchCapRow] = {}
        # None marks a failure cleared in the overlay while the base still has it.
        self._failures: dict[tuple[str, str], FailureRow | None] = {}
        self._runs: dict[int, RunRow] = {}
        self._next_run = -1  # negative ids never collide with the base's

    def close(self) -> None:
        """Discard the in-memory writes; the base is left open (its owner closes it)."""
        with self._mutex:
            self._applied.clear()
            self._processed.clear()
            self._watermarks.clear()
            self._backfill.clear()
            self._caps.clear()
            self._failures.clear()
            self._runs.clear()

    # -- applied -----------------------------------------------------------------

    def applied_pairs(self, account: str, message_ids: Iterable[str]) -> set[tuple[str, str]]:
        """Return applied pairs from the base plus those recorded in this overlay."""
        ids = list(dict.fromkeys(message_ids))
        found = self.base.applied_pairs(account, ids)
        wanted = set(ids)
        with self._mutex:
            found.update((m, t) for a, m, t in self._applied if a == account and m in wanted)
        return found

    def record_applied(
        self,
        account: str,
        message_id: str,
        tag_id: str,
        *,
        rule_id: str,
        rule_hash: str,
        mode: str,
        at: datetime,
    ) -> None:
        """Remember one applied pair in memory (idempotent, like the store)."""
        self.record_applied_many(
            account, [AppliedRow(message_id, tag_id, rule_id, rule_hash, mode, at)]
        )

    def record_applied_many(self, account: str, rows: Iterable[AppliedRow]) -> None:
        """Remember applied pairs in memory; pairs the base already has are ignored."""
        batch = list(rows)
        for row in batch:
            to_us(row.at)  # same validation as the store: reject naive times
        known = self.base.applied_pairs(account, (r.message_id for r in batch))
        with self._mutex:
            for row in batch:
                key = (account, row.message_id, row.tag_id)
                if (row.message_id, row.tag_id) not in known and key not in self._applied:
                    self._applied[key] = row

    def tags_per_rule(self, account: str | None = None) -> dict[tuple[str, str], int]:
        """Return the base counts plus the pairs recorded in this overlay."""
        counts = self.base.tags_per_rule(account)
        with self._mutex:
            for (acct, _m, _t), row in self._applied.items():
                if account is None or acct == account:
                    key = (row.rule_id, row.tag_id)
                    counts[key] = counts.get(key, 0) + 1
        return counts

    # -- processed -----------------------------------------------------------

    def processed_ids(
        self, account: str, ruleset_hash: str, message_ids: Iterable[str]
    ) -> set[str]:
        """Return ids processed in the base or in this overlay."""
        ids = list(dict.fromkeys(message_ids))
        found = self.base.processed_ids(account, ruleset_hash, ids)
        with self._mutex:
            found.update(m for m in ids if (account, ruleset_hash, m) in self._processed)
        return found

    def mark_processed(
        self,
        account: str,
        ruleset_hash: str,
        message_ids: Iterable[str],
        at: datetime,
        received: Mapping[str, datetime] | None = None,
    ) -> None:
        """Remember processed ids in memory."""
        to_us(at)
        with self._mutex:
            for m in message_ids:
                self._processed[(account, ruleset_hash, m)] = at

    # -- watermarks and backfill cursors ---------------------------------------

    def get_watermark(self, account: str, query_key: str) -> datetime | None:
        """Return the overlay's watermark if set, else the base's."""
        with self._mutex:
            if (account, query_key) in self._watermarks:
                return self._watermarks[(account, query_key)]
        return self.base.get_watermark(account, query_key)

    def set_watermark(self, account: str, query_key: str, value: datetime, at: datetime) -> None:
        """Remember a watermark in memory."""
        to_us(value)
        with self._mutex:
            self._watermarks[(account, query_key)] = value

    def get_backfill_progress(self, account: str, job_key: str) -> datetime | None:
        """Return the overlay's backfill cursor if set, else the base's."""
        with self._mutex:
            if (account, job_key) in self._backfill:
                return self._backfill[(account, job_key)]
        return self.base.get_backfill_progress(account, job_key)

    def set_backfill_progress(
        self, account: str, job_key: str, cursor: datetime, at: datetime
    ) -> None:
        """Remember a backfill cursor in memory."""
        to_us(cursor)
        with self._mutex:
            self._backfill[(account, job_key)] = cursor

    # -- the learned search cap -------------------------------------------------

    def get_search_cap(self, account: str) -> SearchCapRow | None:
        """Return the overlay's search-cap knowledge if set, else the base's."""
        with self._mutex:
            if account in self._caps:
                return self._caps[account]
        return self.base.get_search_cap(account)

    def set_search_cap(self, account: str, row: SearchCapRow) -> None:
        """Remember search-cap knowledge in memory."""
        to_us(row.updated_at)
        with self._mutex:
            self._caps[account] = row

    # -- failures ------------------------------------------------------------------

    def _failure(self, account: str, message_id: str) -> FailureRow | None:
        key = (account, message_id)
        with self._mutex:
            if key in self._failures:
                return self._failures[key]
        for row in self.base.failures(account):
            if row.message_id == message_id:
                return row
        return None

    def record_failure(self, account: str, message_id: str, error: str, at: datetime) -> int:
        """Count a failed attempt in memory on top of the base's count."""
        to_us(at)
        with self._mutex:
            old = self._failure(account, message_id)
            new = (
                FailureRow(account, message_id, 1, at, at, error)
                if old is None
                else replace(old, attempts=old.attempts + 1, last_at=at, last_error=error)
            )
            self._failures[(account, message_id)] = new
            return new.attempts

    def failure_count(self, account: str, message_id: str) -> int:
        """Return the attempts counted so far (base plus overlay)."""
        row = self._failure(account, message_id)
        return 0 if row is None else row.attempts

    def set_aside(self, account: str, message_id: str, at: datetime) -> None:
        """Set a message aside in memory."""
        to_us(at)
        with self._mutex:
            old = self._failure(account, message_id)
            row = FailureRow(account, message_id, 0, at, at, "") if old is None else old
            self._failures[(account, message_id)] = replace(row, set_aside_at=at)

    def set_aside_ids(self, account: str) -> set[str]:
        """Return the set-aside ids of the base, adjusted by this overlay."""
        ids = self.base.set_aside_ids(account)
        with self._mutex:
            for (acct, m), row in self._failures.items():
                if acct != account:
                    continue
                if row is not None and row.set_aside_at is not None:
                    ids.add(m)
                else:
                    ids.discard(m)
        return ids

    def clear_failure(self, account: str, message_id: str) -> None:
        """Forget a failure in memory (the base keeps it)."""
        with self._mutex:
            self._failures[(account, message_id)] = None

    def failures(self, account: str | None = None) -> list[FailureRow]:
        """Return the base failures with the overlay's changes, most recent first."""
        merged = {(r.account, r.message_id): r for r in self.base.failures(account)}
        with self._mutex:
            for key, row in self._failures.items():
                if account is not None and key[0] != account:
                    continue
                if row is None:
                    merged.pop(key, None)
                else:
                    merged[key] = row
        return sorted(merged.values(), key=lambda r: (-to_us(r.last_at), r.account, r.message_id))

    # -- runs and maintenance ---------------------------------------------------

    def start_run(self, kind: str, account: str, at: datetime, dry_run: bool) -> int:
        """Record a run start in memory; returns a negative run id."""
        to_us(at)
        with self._mutex:
            run_id, self._next_run = self._next_run, self._next_run - 1
            self._runs[run_id] = RunRow(run_id, kind, account, dry_run, at, None, "running")
            return run_id

    def finish_run(
        self,
        run_id: int,
        at: datetime,
        counts: Mapping[str, int],
        status: str,
        error: str | None = None,
    ) -> None:
        """Record a run end in memory; StateError for a run not started here."""
        with self._mutex:
            if run_id not in self._runs:
                raise StateError(f"run {run_id} was not started in this dry run")
            self._runs[run_id] = replace(
                self._runs[run_id], finished_at=at, counts=dict(counts), status=status, error=error
            )

    def last_runs(self) -> list[RunRow]:
        """Return the latest run per account, the overlay's runs being the newest."""
        latest = {r.account: r for r in self.base.last_runs()}
        with self._mutex:
            # Ids count down, so the most negative id is the latest overlay run.
            for run_id in sorted(self._runs, reverse=True):
                latest[self._runs[run_id].account] = self._runs[run_id]
        return [latest[a] for a in sorted(latest)]

    def prune(self, older_than: datetime) -> dict[str, int]:
        """Prune only the in-memory rows (the base is never written); return counts."""
        with self._mutex:
            applied = [k for k, r in self._applied.items() if r.at < older_than]
            processed = [k for k, at in self._processed.items() if at < older_than]
            for key in applied:
                del self._applied[key]
            for pkey in processed:
                del self._processed[pkey]
        return {"processed": len(processed), "applied": len(applied), "runs": 0, "failures": 0}

    def integrity_check(self) -> str:
        """Return the base's integrity report (the overlay itself cannot be corrupt)."""
        return self.base.integrity_check()
