"""The hub's garbage-collector settings: start-up frozen, young collections less often."""

from __future__ import annotations

import gc
from collections.abc import Iterator

import pytest

from fleetwatch.gc_policy import YOUNG_THRESHOLD, settle_after_start


@pytest.fixture
def restored_gc() -> Iterator[None]:
    before = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*before)


def test_start_up_objects_are_frozen_and_young_collections_rarer(restored_gc: None) -> None:
    kept = [[n] for n in range(1000)]  # start-up state: containers that live on
    _, middle, oldest = gc.get_threshold()
    settle_after_start()
    assert gc.get_freeze_count() >= len(kept)
    assert gc.get_threshold() == (YOUNG_THRESHOLD, middle, oldest)


def test_cycles_made_after_start_are_still_collected(restored_gc: None) -> None:
    settle_after_start()

    class Node:
        other: object = None

    a, b = Node(), Node()
    a.other, b.other = b, a
    del a, b
    assert gc.collect() >= 2
