"""A deleted or replaced state file is noticed; a lost state makes every account verify."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tagger.state import StateStore
from tagger.state.errors import StateGone
from tagger.state.integrity import marker_path
from tests.support.state import at


def test_a_deleted_or_replaced_state_file_is_noticed(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with StateStore.open(path) as store:
        store.check_file()
        path.unlink()
        with pytest.raises(StateGone, match=f"{path}.*deleted"):
            store.check_file()
    other = tmp_path / "other.db"
    with StateStore.open(path) as store:
        StateStore.open(other).close()
        os.replace(other, path)
        with pytest.raises(StateGone, match="replaced"):
            store.check_file()


def test_a_lost_state_is_recorded_and_makes_every_account_verify(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    with StateStore.open(path) as store:
        assert store.lost_at() is None
        run = store.start_run("once", "a", at(1), False)
        store.finish_run(run, at(2), {}, "ok")
    assert marker_path(path).exists()
    for extra in ("", "-wal", "-shm"):
        Path(f"{path}{extra}").unlink(missing_ok=True)
    with StateStore.open(path) as store:
        lost = store.lost_at()
        assert lost is not None
    # Still recorded after a restart that ran nothing (say, killed at start-up).
    with StateStore.open(path) as store:
        assert store.lost_at() == lost
