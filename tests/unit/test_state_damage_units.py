"""A damaged state file is refused when opened."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from tagger.state import StateStore
from tagger.state.errors import StateDamaged
from tests.support.state import damage


def test_a_damaged_file_is_refused_when_opened(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with StateStore.open(path) as store:
        store.mark_processed("a", "q", [f"m{i}" for i in range(2000)], datetime.now(UTC), {})
    damage(path)
    with pytest.raises(StateDamaged) as info:
        StateStore.open(path)
    assert str(path) in str(info.value) and "tagger recover-state" in str(info.value)
    with pytest.raises(StateDamaged):
        StateStore.open_copy(path)
