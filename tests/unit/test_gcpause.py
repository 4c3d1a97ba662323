"""paused_gc: the collector is off inside, restored after, and large builds are frozen."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from tagger.yamldoc.gcpause import paused_gc


@pytest.fixture(autouse=True)
def collector_restored() -> Iterator[None]:
    was_enabled = gc.isenabled()
    yield
    gc.unfreeze()
    if was_enabled:
        gc.enable()


def test_the_collector_is_off_inside_and_back_on_after_even_on_error() -> None:
    gc.enable()
    with pytest.raises(RuntimeError), paused_gc():
        assert not gc.isenabled()
        raise RuntimeError
    assert gc.isenabled()


def test_a_nested_block_leaves_the_collector_to_the_outer_one() -> None:
    gc.enable()
    with paused_gc():
        with paused_gc():
            pass
        assert not gc.isenabled()
    assert gc.isenabled()
    gc.disable()
    with paused_gc():
        pass
    assert not gc.isenabled()


def test_only_a_large_build_is_frozen() -> None:
    gc.enable()
    gc.unfreeze()
    with paused_gc(freeze_over=1_000):
        kept = [[] for _ in range(100)]
    assert gc.get_freeze_count() == 0
    with paused_gc(freeze_over=1_000):
        kept = [[] for _ in range(5_000)]
    assert gc.get_freeze_count() >= len(kept)
    assert gc.isenabled()
