"""What ``/metrics`` reads of the store itself, on both backends: its size and writer queue."""

from __future__ import annotations

import pytest

from fleetwatch.store import Store, open_store

pytestmark = pytest.mark.anyio


async def test_size_and_queue_depth(store: Store) -> None:
    assert await store.size_bytes() > 0
    assert store.pending_writes == 0
    await store.add_system("nas1")
    assert store.pending_writes == 0  # acknowledged means committed


async def test_each_group_commit_is_timed(store_url: str) -> None:
    timed: list[float] = []
    store = open_store(store_url, on_commit=timed.append)
    await store.open()
    try:
        await store.add_system("nas1")
    finally:
        await store.close()
    assert timed
    assert all(seconds >= 0 for seconds in timed)
