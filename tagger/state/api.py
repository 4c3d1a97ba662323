"""The state interface the engine codes against.

:class:`~tagger.state.store.StateStore` (SQLite) and
:class:`~tagger.state.overlay.OverlayState` (dry-run, memory-only writes) both
satisfy it, so a cycle never knows which one it was given.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import datetime
from typing import Protocol

from tagger.state.rows import AppliedRow, FailureRow, RunRow, SearchCapRow


class StateAPI(Protocol):
    """Reads and writes of the tagger state; every write is atomic on its own."""

    def close(self) -> None: ...

    def applied_pairs(self, account: str, message_ids: Iterable[str]) -> set[tuple[str, str]]: ...

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
    ) -> None: ...

    def record_applied_many(self, account: str, rows: Iterable[AppliedRow]) -> None: ...

    def processed_ids(
        self, account: str, ruleset_hash: str, message_ids: Iterable[str]
    ) -> set[str]: ...

    def mark_processed(
        self,
        account: str,
        ruleset_hash: str,
        message_ids: Iterable[str],
        at: datetime,
        received: Mapping[str, datetime] | None = None,
    ) -> None: ...

    def get_watermark(self, account: str, query_key: str) -> datetime | None: ...

    def set_watermark(
        self, account: str, query_key: str, value: datetime, at: datetime
    ) -> None: ...

    def get_backfill_progress(self, account: str, job_key: str) -> datetime | None: ...

    def set_backfill_progress(
        self, account: str, job_key: str, cursor: datetime, at: datetime
    ) -> None: ...

    def get_search_cap(self, account: str) -> SearchCapRow | None: ...

    def set_search_cap(self, account: str, row: SearchCapRow) -> None: ...

    def record_failure(self, account: str, message_id: str, error: str, at: datetime) -> int: ...

    def failure_count(self, account: str, message_id: str) -> int: ...

    def set_aside(self, account: str, message_id: str, at: datetime) -> None: ...

    def set_aside_ids(self, account: str) -> set[str]: ...

    def clear_failure(self, account: str, message_id: str) -> None: ...

    def failures(self, account: str | None = None) -> list[FailureRow]: ...

    def start_run(self, kind: str, account: str, at: datetime, dry_run: bool) -> int: ...

    def finish_run(
        self,
        run_id: int,
        at: datetime,
        counts: Mapping[str, int],
        status: str,
        error: str | None = None,
    ) -> None: ...

    def last_runs(self) -> list[RunRow]: ...

    def tags_per_rule(self, account: str | None = None) -> dict[tuple[str, str], int]: ...

    def prune(self, older_than: datetime) -> dict[str, int]: ...

    def integrity_check(self) -> str: ...
