"""The state lock within one process: a second open is refused."""

from __future__ import annotations

from pathlib import Path

import pytest

from tagger.state import StateLocked, StateStore


def test_same_process_second_open_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    first = StateStore.open(path)
    with pytest.raises(StateLocked, match="pid"):
        StateStore.open(path)
    first.close()
    StateStore.open(path).close()
