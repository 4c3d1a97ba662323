"""What message-finder search reveals about its own result cap, learned per account.

Search has no pagination and silently truncates its results at a cap that is
not documented, so tagger never trusts a configured number to tell a complete
answer from a truncated one. It relies on one property instead: a truncated
answer always holds exactly the cap's number of results, so no answer ever
holds more than the cap. Hence:

- an answer with fewer results than the most any answer ever held
  (``largest``) is complete;
- once an answer of ``n`` results has been shown to be truncated, the cap is
  ``n`` (``learned``): ``n`` results or more are truncated, fewer are complete
  (an answer above the learned cap means the service raised it: learn again);
- an answer holding as many results as ever seen is *suspect*: its window is
  split in halves, which either yield messages the whole did not (it was
  truncated: the cap is learned) or together return exactly its messages in
  smaller answers (it was complete). After :data:`TRUST` such confirmations,
  that count is taken as complete without splitting.

Splitting a suspect window costs nothing over a server whose cap is known
when the window was truncated (it would be split anyway); only a suspect
window that proves complete costs two extra calls, and only at a new largest
count. The knowledge is kept in state per account (by the ledger:
:meth:`CapTracker.from_row`, :meth:`CapTracker.changed`) so later cycles and
restarts start from it.
"""

from __future__ import annotations

import asyncio
import dataclasses
import enum
from dataclasses import dataclass
from datetime import datetime

import structlog

from tagger.state.rows import SearchCapRow

log = structlog.get_logger("tagger.engine")

# Windows returning the largest count seen, shown complete this many times,
# make that count trusted as complete (a cap of exactly that count would have
# had to hide behind windows holding exactly that many messages every time).
TRUST = 2

# (account, learned cap, configured cap) already warned about in this process.
_WARNED: set[tuple[str, int, int]] = set()


class Verdict(enum.Enum):
    """What one answer's result count says about its window."""

    COMPLETE = "complete"
    TRUNCATED = "truncated"
    SUSPECT = "suspect"


@dataclass(frozen=True, slots=True)
class CapKnowledge:
    """What searches revealed about one account's cap (pure; see module docstring)."""

    learned: int | None = None
    largest: int = 0
    confirmed: int = 0

    def observe(self, count: int) -> CapKnowledge:
        """Return the knowledge after an answer of ``count`` results."""
        if self.learned is not None and count > self.learned:
            # More than the learned cap: the service's cap went up. Learn it again.
            return CapKnowledge(None, count, 0)
        if count > self.largest:
            return dataclasses.replace(self, largest=count, confirmed=0)
        return self

    def classify(self, count: int) -> Verdict:
        """Return whether an answer of ``count`` results is complete, truncated or suspect."""
        if count == 0 or (self.learned is None and count == 1):
            # A single result is no cap (a service capping at one would be
            # useless), and a one-second window holding it cannot be checked.
            return Verdict.COMPLETE
        if self.learned is not None:
            return Verdict.TRUNCATED if count >= self.learned else Verdict.COMPLETE
        if count < self.largest or (count == self.largest and self.confirmed >= TRUST):
            return Verdict.COMPLETE
        return Verdict.SUSPECT

    def truncated(self, count: int) -> CapKnowledge:
        """Return the knowledge after an answer of ``count`` results was shown truncated.

        Ignored when some answer held more (the evidence is then mail indexed
        between the calls, not a cap).
        """
        if count < self.largest or count == self.learned:
            return self
        return CapKnowledge(count, max(count, self.largest), 0)

    def complete(self, count: int) -> CapKnowledge:
        """Return the knowledge after an answer of ``count`` results was shown complete."""
        if self.learned is None and count == self.largest:
            return dataclasses.replace(self, confirmed=self.confirmed + 1)
        return self


class CapTracker:
    """One account's cap knowledge, shared by the concurrent searches of a cycle.

    Also lines up the first answers of searches started together
    (:meth:`opening` / :meth:`opened` / :meth:`settled`), so that each is
    judged against the largest of them: on a server without a cap only the
    fullest window of a cycle is ever checked, not every window that happened
    to answer first. ``configured`` is the operator's ``window.search_cap``,
    used only to tell the operator when it differs from the learned cap.
    """

    def __init__(self, configured: int, known: CapKnowledge | None = None) -> None:
        self.configured = configured
        self.knowledge = known if known is not None else CapKnowledge()
        self.loaded = self.knowledge
        self.verify_calls = 0
        self._opening = 0
        self._idle = asyncio.Event()
        self._idle.set()

    @classmethod
    def from_row(cls, row: SearchCapRow | None, configured: int) -> CapTracker:
        """Return a tracker starting from a stored row (None: nothing known yet)."""
        known = None if row is None else CapKnowledge(row.learned, row.largest, row.confirmed)
        return cls(configured, known)

    def changed(self, account: str, at: datetime) -> SearchCapRow | None:
        """Return the row to store when the knowledge changed (else None); warn about a mismatch.

        The warning (``search_cap_mismatch``) is logged once per process for
        each learned cap that differs from the configured one.
        """
        k = self.knowledge
        row = None
        if k != self.loaded:
            row = SearchCapRow(k.learned, k.largest, k.confirmed, at)
            self.loaded = k
        if k.learned is not None and k.learned != self.configured:
            key = (account, k.learned, self.configured)
            if key not in _WARNED:
                _WARNED.add(key)
                log.warning(
                    "search_cap_mismatch",
                    account=account,
                    learned_cap=k.learned,
                    configured_cap=self.configured,
                    advice=f"message-finder search returns at most {k.learned} results;"
                    f" set window.search_cap: {k.learned} (it is {self.configured})."
                    " Nothing is lost either way: tagger splits truncated windows",
                )
        return row

    # -- knowledge -------------------------------------------------------------

    def observe(self, count: int) -> None:
        """Take in an answer of ``count`` results."""
        self.knowledge = self.knowledge.observe(count)

    def classify(self, count: int) -> Verdict:
        """Return what an answer of ``count`` results says (see :class:`CapKnowledge`)."""
        return self.knowledge.classify(count)

    def verified(self, count: int, *, truncated: bool | None) -> None:
        """Take in the check of a split window of ``count`` results (None: undecided).

        A split window shown complete counts two calls in :attr:`verify_calls`
        (the halves that a known cap would not have needed).
        """
        if truncated is True:
            before = self.knowledge.learned
            self.knowledge = self.knowledge.truncated(count)
            if self.knowledge.learned != before:
                log.info("search_cap_learned", cap=self.knowledge.learned)
        elif truncated is False:
            self.knowledge = self.knowledge.complete(count)

    # -- lining up the first answers ---------------------------------------------

    def opening(self) -> None:
        """Note that a search's first call starts (call before its first await)."""
        self._opening += 1
        self._idle.clear()

    def opened(self, count: int | None) -> None:
        """Note that a search's first call ended with ``count`` results (None: it failed)."""
        if count is not None:
            self.observe(count)
        self._opening -= 1
        if self._opening <= 0:
            self._opening = 0
            self._idle.set()

    async def settled(self) -> None:
        """Wait until every first call started together has answered."""
        while self._opening > 0:
            await self._idle.wait()
