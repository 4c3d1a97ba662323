"""Durable state: applied pairs, processed messages, watermarks, runs, failures.

``StateStore`` is the SQLite file; ``OverlayState`` wraps one for dry runs so
nothing is written. Both satisfy ``StateAPI``.
"""

from tagger.state.api import StateAPI
from tagger.state.errors import StateError, StateLocked
from tagger.state.overlay import OverlayState
from tagger.state.rows import AppliedRow, FailureRow, RunRow, SearchCapRow
from tagger.state.store import StateStore

__all__ = [
    "AppliedRow",
    "FailureRow",
    "OverlayState",
    "RunRow",
    "SearchCapRow",
    "StateAPI",
    "StateError",
    "StateLocked",
    "StateStore",
]


def _satisfies_protocol(store: StateStore, overlay: OverlayState) -> tuple[StateAPI, StateAPI]:
    # Never called: lets mypy prove both classes implement StateAPI.
    return store, overlay
