"""Downsampled history: the rollup store contract and the job that fills it, on both backends."""

from __future__ import annotations

import pytest

from fleetwatch.collect.cpu import SPEC as CPU
from fleetwatch.collect.network import SPEC as NETWORK
from fleetwatch.engine.downsample import DownsampleJob
from fleetwatch.engine.retention import DAY, RetentionJob
from fleetwatch.model.rollup import HOUR, MINUTE, Bucket, history_items, summarise
from fleetwatch.store import Store
from fleetwatch.store.rollups import RollupRecord

pytestmark = pytest.mark.anyio

SPECS = {"cpu": CPU, "network": NETWORK}
T0 = 1_800_000_000.0  # a whole hour: T0 % 3600 == 0


def stats(total: float, recv: float = 0.0) -> dict[str, object]:
    return {
        "cpu": {"total": total, "user": total / 2, "system": total / 4, "idle": 100 - total},
        "network": [{"interface_name": "eth0", "bytes_recv_rate_per_sec": recv}],
    }


def test_history_items_are_named_as_history_names_them() -> None:
    items = sorted(history_items(stats(40.0, 10.0), SPECS))
    assert ("cpu", "total", 40.0) in items
    assert ("network", "eth0_bytes_recv_rate_per_sec", 10.0) in items
    assert not any(item == "idle" for _, item, _ in items)  # not a history field
    odd = {"cpu": {"total": True, "user": float("nan"), "system": "7"}}
    assert list(history_items(odd, SPECS)) == []  # flags, NaN and strings are not figures


def test_hours_merge_minutes_weighted_by_count() -> None:
    minutes = summarise([(T0, stats(10)), (T0 + 1, stats(20)), (T0 + 61, stats(60))], SPECS, 60)
    assert sorted(minutes) == [T0, T0 + 60]
    assert minutes[T0].stats()["cpu"]["total"] == [15.0, 10.0, 20.0, 2]
    hour = Bucket()
    for bucket in minutes.values():
        hour.add_summary(bucket.stats(), bucket.samples)
    assert hour.samples == 3
    assert hour.stats()["cpu"]["total"] == [30.0, 10.0, 60.0, 3]  # not the mean of 15 and 60


async def test_rollups_round_trip_upsert_and_watermark(store: Store) -> None:
    system = await store.add_system("nas1")
    first = RollupRecord(system.id, MINUTE, T0, 2, {"cpu": {"total": [15.0, 10.0, 20.0, 2]}})
    second = RollupRecord(system.id, MINUTE, T0 + 60, 1, {"cpu": {"total": [5.0, 5.0, 5.0, 1]}})
    await store.save_rollups([first, second])
    replaced = RollupRecord(system.id, MINUTE, T0, 3, {"cpu": {"total": [1.0, 1.0, 1.0, 3]}})
    await store.save_rollups([replaced])  # the same bucket again replaces it
    rows = await store.rollups(system.id, MINUTE, T0, T0 + HOUR, limit=100)
    assert rows == [replaced, second]
    assert await store.rollups(system.id, MINUTE, T0, T0 + HOUR, limit=1) == [second]  # newest
    assert await store.rollups(system.id, HOUR, T0, T0 + HOUR, limit=100) == []

    assert await store.rollup_watermark(MINUTE) is None
    await store.set_rollup_watermark(MINUTE, T0 + 120)
    await store.set_rollup_watermark(MINUTE, T0 + 60)  # never backwards
    assert await store.rollup_watermark(MINUTE) == T0 + 120
    assert await store.rollup_watermark(HOUR) is None

    assert await store.remove_system("nas1")
    assert await store.rollups(system.id, MINUTE, 0, T0 + HOUR, limit=100) == []  # cascaded


async def test_snapshot_stats_reads_the_normalised_form_in_order(store: Store) -> None:
    system = await store.add_system("nas1")
    for n in (2, 0, 1, 3):
        await store.add_snapshot(system.id, T0 + n, {"hostname": "x"}, stats(n), "push")
    rows = await store.snapshot_stats(system.id, T0, T0 + 3, limit=10)
    assert [at for at, _ in rows] == [T0, T0 + 1, T0 + 2]
    assert rows[1][1]["cpu"]["total"] == 1
    assert len(await store.snapshot_stats(system.id, T0, T0 + 3, limit=2)) == 2


async def test_the_job_rolls_up_closed_minutes_then_hours(store: Store) -> None:
    a = await store.add_system("a")
    b = await store.add_system("b")
    # Two hours of a snapshot every 10 s for a, 0..99 % in a saw-tooth; b reports once.
    for n in range(720):
        await store.add_snapshot(a.id, T0 + n * 10, {}, stats(float(n % 100), n), "push")
    await store.add_snapshot(b.id, T0 + 30, {}, stats(50.0), "push")
    now = T0 + 2 * HOUR + 5  # the last minute closes at +2h, but has not settled for 10 s
    # A tiny page forces minutes to be split across reads; the result must not depend on it.
    job = DownsampleJob(store, SPECS, first_days=1, page=4, clock=lambda: now)
    written = await job.roll_up()
    minutes = await store.rollups(a.id, MINUTE, 0, now, limit=1000)
    assert len(minutes) == 119  # the 120th minute has not settled yet
    first = minutes[0]
    assert first.bucket_start == T0
    assert first.samples == 6
    assert first.stats["cpu"]["total"] == [2.5, 0.0, 5.0, 6]
    assert first.stats["network"]["eth0_bytes_recv_rate_per_sec"][0] == 2.5
    assert await store.rollup_watermark(MINUTE) == T0 + 119 * MINUTE
    hours = await store.rollups(a.id, HOUR, 0, now, limit=10)
    assert [h.bucket_start for h in hours] == [T0]  # the second hour is not complete yet
    assert hours[0].samples == 360
    expected = sum(n % 100 for n in range(360)) / 360
    assert hours[0].stats["cpu"]["total"][0] == pytest.approx(expected)
    assert hours[0].stats["cpu"]["total"][1:] == [0.0, 99.0, 360]
    only_b = await store.rollups(b.id, MINUTE, 0, now, limit=10)
    assert [(r.bucket_start, r.samples) for r in only_b] == [(T0, 1)]
    assert written == 119 + 1 + 1 + 1  # a's minutes, b's minute, a's and b's first hour

    now += 10  # the last minute has settled; the second hour is complete
    assert await job.roll_up() == 1 + 1  # a's last minute and its second hour
    assert len(await store.rollups(a.id, MINUTE, 0, now, limit=1000)) == 120
    assert await store.rollup_watermark(HOUR) == T0 + 2 * HOUR
    assert await job.roll_up() == 0  # nothing new: nothing written


async def test_hours_are_merged_from_pages_of_minutes(store: Store) -> None:
    a = await store.add_system("a")
    for n in range(360):  # three hours, one snapshot every 30 s
        await store.add_snapshot(a.id, T0 + n * 30, {}, stats(float(n % 2)), "push")
    job = DownsampleJob(store, SPECS, first_days=1, page=4, clock=lambda: T0 + 3 * HOUR + 15)
    assert await job.roll_up() == 180 + 3  # pages of 120 minutes end inside the third hour
    hours = await store.rollups(a.id, HOUR, 0, T0 + 4 * HOUR, limit=10)
    assert [(h.bucket_start - T0, h.samples) for h in hours] == [(0, 120), (HOUR, 120),
                                                                 (2 * HOUR, 120)]  # fmt: skip
    assert all(h.stats["cpu"]["total"] == [0.5, 0.0, 1.0, 120] for h in hours)
    oldest = await store.rollups(a.id, MINUTE, 0, T0 + HOUR, limit=2, oldest=True)
    assert [m.bucket_start for m in oldest] == [T0, T0 + MINUTE]


async def test_snapshots_sharing_an_instant_are_counted_once_across_pages(store: Store) -> None:
    a = await store.add_system("a")
    for n in range(7):  # pages of 3 end in the middle of these ties
        await store.add_snapshot(a.id, T0 + (n // 3) * 10, {}, stats(float(n)), "push")
    job = DownsampleJob(store, SPECS, first_days=1, page=3, clock=lambda: T0 + 300)
    assert await job.roll_up() == 1  # one minute; its hour is not over
    (minute,) = await store.rollups(a.id, MINUTE, 0, T0 + 300, limit=10)
    assert minute.samples == 7
    assert minute.stats["cpu"]["total"] == [3.0, 0.0, 6.0, 7]


async def test_retention_prunes_rollups_on_their_own_schedule(store: Store) -> None:
    system = await store.add_system("old")
    now = T0 + 400 * DAY
    records = [
        RollupRecord(system.id, resolution, now - age * DAY, 1, {"cpu": {"total": [1, 1, 1, 1]}})
        for resolution in (MINUTE, HOUR)
        for age in (800, 100, 95, 80, 1)
    ]
    await store.save_rollups(records)
    job = RetentionJob(
        store, days=30, batch=2, clock=lambda: now, rollup_days={MINUTE: 90, HOUR: 730}
    )
    assert await job.prune() == 3 + 1  # minutes older than 90 days, hours older than 730
    left_minutes = await store.rollups(system.id, MINUTE, 0, now, limit=100)
    assert [round((now - r.bucket_start) / DAY) for r in left_minutes] == [80, 1]
    left_hours = await store.rollups(system.id, HOUR, 0, now, limit=100)
    assert len(left_hours) == 4
    assert await job.prune() == 0
