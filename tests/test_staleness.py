"""STALE events for silent systems, on both backends, with a hand-driven clock."""

from __future__ import annotations

import pytest

from fleetwatch.engine.staleness import StalenessWatcher
from fleetwatch.store import Store

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


async def test_a_silent_system_goes_stale_and_comes_back(store: Store) -> None:
    system = await store.add_system("nas1")
    clock = Clock()
    watcher = StalenessWatcher(store, minimum=120.0, clock=clock)
    for t in (0.0, 60.0, 120.0, 180.0):
        await store.add_snapshot(system.id, clock.now + t, {"hostname": "nas1"}, {}, "push")
        await watcher.seen(system.id, clock.now + t)
    start = clock.now
    clock.now = start + 180.0 + 179.0  # window is 3 x the 60 s median = 180 s
    assert await watcher.check() == []
    clock.now = start + 180.0 + 181.0
    assert await watcher.check() == [system.id]
    assert await watcher.check() == []  # once per silence
    [stale] = await store.list_events(system_id=system.id, open_only=True)
    assert stale.type == "STALE"
    assert stale.end == -1
    assert stale.desc == "No statistics for 181 s (window 180 s)"

    # A restart remembers the open event and the rhythm.
    again = StalenessWatcher(store, minimum=120.0, clock=clock)
    await again.restore()
    assert again.is_stale(system.id)
    rhythm = (await store.rhythms([system.id]))[system.id]
    assert again.window(rhythm.intervals) == 180.0
    await again.seen(system.id, clock.now + 5)
    assert await again.check() == []  # its return ends the event
    assert not again.is_stale(system.id)
    [ended] = await store.list_events(system_id=system.id)
    assert ended.id == stale.id
    assert ended.end == clock.now + 5
    assert await store.list_events(system_id=system.id, open_only=True) == []


async def test_the_window_is_at_least_the_minimum(store: Store) -> None:
    system = await store.add_system("chatty")
    clock = Clock()
    watcher = StalenessWatcher(store, minimum=120.0, clock=clock)
    for t in (0.0, 1.0, 2.0):
        await watcher.seen(system.id, clock.now + t)
    await watcher.flush()
    rhythm = (await store.rhythms([system.id]))[system.id]
    assert rhythm.intervals == [1.0, 1.0]
    assert watcher.window(rhythm.intervals) == 120.0
