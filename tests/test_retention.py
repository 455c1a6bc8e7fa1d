"""Snapshots older than the retention period are pruned in batches; newer ones stay."""

from __future__ import annotations

import pytest

from fleetwatch.engine.retention import DAY, RetentionJob
from fleetwatch.store import Store

pytestmark = pytest.mark.anyio


async def test_old_snapshots_are_pruned_in_batches(store: Store) -> None:
    system = await store.add_system("old")
    now = 2_000_000_000.0
    for age_days in (40, 35, 31, 29, 1):
        for n in range(3):
            await store.add_snapshot(
                system.id, now - age_days * DAY + n, {"hostname": "old"}, {}, "push"
            )
    job = RetentionJob(store, days=30, batch=2, clock=lambda: now)
    assert await job.prune() == 9
    left = await store.snapshots(system.id, limit=100)
    assert len(left) == 6
    assert min(s.created_at for s in left) >= now - 30 * DAY
    assert await job.prune() == 0


async def test_zero_days_keeps_everything(store: Store) -> None:
    system = await store.add_system("keep")
    await store.add_snapshot(system.id, 1.0, {"hostname": "keep"}, {}, "push")
    assert await RetentionJob(store, days=0).prune() == 0
    assert await store.count_snapshots(system.id) == 1
