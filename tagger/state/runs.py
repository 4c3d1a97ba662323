"""The runs table: the history of cycles, their counters and outcomes.

A table family of :class:`~tagger.state.store.StateStore`, mixed in over the
shared plumbing of :mod:`tagger.state.access`. A run is recorded when it starts
(status ``running``) and updated when it finishes, so a run that died midway
stays visible.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from tagger.state.access import StateAccess, clean_error
from tagger.state.errors import StateError
from tagger.state.rows import RunRow
from tagger.state.times import from_us, opt_from_us, to_us


def _run(row: tuple[Any, ...]) -> RunRow:
    """Return the run of one row read as ``id, kind, account, dry_run, started_at, …, error``."""
    i, k, a, d, s, f, st, c, e = row
    return RunRow(i, k, a, bool(d), from_us(s), opt_from_us(f), st, json.loads(c), e)


class RunRecords(StateAccess):
    """The run history of the state file (mixed into the store)."""

    def start_run(self, kind: str, account: str, at: datetime, dry_run: bool) -> int:
        """Record the start of a cycle; return its run id for :meth:`finish_run`."""
        with self._tx() as conn:
            row = conn.execute(
                "INSERT INTO runs (kind, account, dry_run, started_at, status)"
                " VALUES (?, ?, ?, ?, 'running') RETURNING id",
                (kind, account, int(dry_run), to_us(at)),
            ).fetchone()
        return int(row[0])

    def finish_run(
        self,
        run_id: int,
        at: datetime,
        counts: Mapping[str, int],
        status: str,
        error: str | None = None,
    ) -> None:
        """Record the end of run ``run_id`` with its counters and outcome."""
        text = json.dumps({k: int(v) for k, v in counts.items()}, sort_keys=True)
        with self._tx() as conn:
            cur = conn.execute(
                "UPDATE runs SET finished_at = ?, counts = ?, status = ?, error = ? WHERE id = ?",
                (to_us(at), text, status, None if error is None else clean_error(error), run_id),
            )
            if cur.rowcount != 1:
                raise StateError(f"run {run_id} does not exist in state file {self.path}")

    def update_run_counts(self, run_id: int, counts: Mapping[str, int]) -> None:
        """Record the counters of run ``run_id`` so far, while it is still running.

        A run cut off later (killed, crashed) keeps what it did up to here.
        """
        text = json.dumps({k: int(v) for k, v in counts.items()}, sort_keys=True)
        with self._tx() as conn:
            conn.execute(
                "UPDATE runs SET counts = ? WHERE id = ? AND status = 'running'", (text, run_id)
            )

    def count_cut_off_applies(self, account: str, at: datetime) -> int:
        """Count, in the runs of ``account`` that never finished, the applies they recorded.

        A run killed mid-cycle kept its applies (each recorded at once) but its
        counts only up to its last checkpoint: each unfinished live run since
        the account's last finished one gets as ``applied`` the pairs recorded
        between its start and the next run's (or ``at``), when that is more.
        Returns how many runs were updated.
        """
        rows = self._rows(
            "SELECT id, started_at, counts FROM runs WHERE account = ?1 AND dry_run = 0"
            " AND finished_at IS NULL AND id > (SELECT COALESCE(MAX(id), 0) FROM runs"
            " WHERE account = ?1 AND finished_at IS NOT NULL) ORDER BY id",
            (account,),
        )
        updated = 0
        ends = [int(r[1]) for r in rows[1:]] + [to_us(at)] if rows else []
        for (run_id, start, text), end in zip(rows, ends, strict=True):
            (applied,) = self._rows(
                "SELECT COUNT(*) FROM applied WHERE account = ? AND applied_at >= ?"
                " AND applied_at < ?",
                (account, int(start), end),
            )[0]
            counts = json.loads(text or "{}")
            if int(applied) > int(counts.get("applied", 0)):
                counts["applied"] = int(applied)
                self.update_run_counts(int(run_id), counts)
                updated += 1
        return updated

    def last_runs(self) -> list[RunRow]:
        """Return the most recent run of each account, ordered by account."""
        rows = self._rows(
            "SELECT id, kind, account, dry_run, started_at, finished_at, status, counts, error"
            " FROM runs WHERE id IN (SELECT MAX(id) FROM runs GROUP BY account) ORDER BY account"
        )
        return [_run(row) for row in rows]

    def runs_since(self, account: str, since: datetime) -> list[RunRow]:
        """Return the runs of ``account`` that started at or after ``since``, oldest first."""
        rows = self._rows(
            "SELECT id, kind, account, dry_run, started_at, finished_at, status, counts, error"
            " FROM runs WHERE account = ? AND started_at >= ? ORDER BY id",
            (account, to_us(since)),
        )
        return [_run(row) for row in rows]

    def cycle_before(self, account: str, at: datetime) -> RunRow | None:
        """Return the latest live cycle of ``account`` started before ``at`` that ran to its end.

        A cycle is a run of kind ``run`` or ``once`` (not a backfill); live: not
        a dry run; ran to its end: status ``ok`` or ``partial``. None when there
        is none.
        """
        rows = self._rows(
            "SELECT id, kind, account, dry_run, started_at, finished_at, status, counts, error"
            " FROM runs WHERE account = ? AND started_at < ? AND dry_run = 0"
            " AND status IN ('ok', 'partial') AND kind IN ('run', 'once') ORDER BY id DESC LIMIT 1",
            (account, to_us(at)),
        )
        return _run(rows[0]) if rows else None

    def recent_runs(self, limit: int = 20) -> list[RunRow]:
        """Return the ``limit`` most recent runs of every account, newest first."""
        rows = self._rows(
            "SELECT id, kind, account, dry_run, started_at, finished_at, status, counts, error"
            " FROM runs ORDER BY id DESC LIMIT ?",
            (limit,),
        )
        return [_run(row) for row in rows]
