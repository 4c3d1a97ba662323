"""After each cycle: each endpoint's quota use, for ``tagger status`` and the metrics.

The daemon's clients count every answer and 429 per endpoint and know the
refill they pace to; :class:`QuotaWatch` turns the counts at the end of each
cycle into that cycle's figures (:func:`~tagger.monitor.quotanote.quota_note`),
writes them beside the state file (a live daemon only) and sets the gauges.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

import structlog

from tagger.monitor.quotanote import QuotaNote, quota_note, quota_path, write_quota

if TYPE_CHECKING:
    from tagger.engine.options import Runtime
    from tagger.service.metrics import Metrics

log = structlog.get_logger("tagger.service")


class QuotaWatch:
    """Keeps the totals of the last cycle's end, to tell each cycle's own figures."""

    def __init__(self, state_path: Path) -> None:
        self.state_path = state_path
        self.last: QuotaNote | None = None
        self._clients: dict[str, int] = {}  # account -> id of the client counted

    def observe(
        self,
        runtime: Runtime,
        at: datetime,
        cycle_s: float,
        *,
        dry_run: bool,
        metrics: Metrics | None,
    ) -> QuotaNote:
        """Return the cycle's note; writes it (unless ``dry_run``) and sets the gauges.

        Never raises for a note that cannot be written: it is logged
        (``quota_note_failed``) and the daemon goes on.
        """
        before = self.last.totals() if self.last is not None else {}
        use = {}
        for account in runtime.accounts:
            if self._clients.get(account.name) != id(account.client):
                # A new client (a reload): its counts start from zero.
                before = {k: v for k, v in before.items() if k[0] != account.name}
                self._clients[account.name] = id(account.client)
            use[account.name] = account.client.quota_use()
        note = quota_note(at, cycle_s, use, before)
        self.last = note
        if metrics is not None:
            metrics.observe_quota(note)
        if not dry_run:
            try:
                write_quota(self.state_path, note)
            except OSError as exc:
                log.warning(
                    "quota_note_failed", path=str(quota_path(self.state_path)), error=str(exc)
                )
        return note
