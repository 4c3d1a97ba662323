"""Durable state: applied pairs, processed messages, watermarks, runs, failures.

``StateStore`` is the SQLite file or a PostgreSQL database (or, for a dry
run, an in-memory SQLite copy of either), opened through
:func:`tagger.state.opener.open_state`. Only the ledger
(:mod:`tagger.engine.ledger`) writes to it; ``tagger status`` reads it.
"""

from tagger.state.errors import StateError, StateLocked
from tagger.state.rows import AppliedRow, FailureRow, RunRow, SearchCapRow
from tagger.state.store import StateStore

__all__ = [
    "AppliedRow",
    "FailureRow",
    "RunRow",
    "SearchCapRow",
    "StateError",
    "StateLocked",
    "StateStore",
]
