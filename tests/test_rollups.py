"""Downsampled history: the rollup store contract and the job that fills it, on both backends."""

from __future__ import annotations

import math
import random
from typing import Any

import pytest

from fleetwatch.collect.cpu import SPEC as CPU
from fleetwatch.collect.network import SPEC as NETWORK
from fleetwatch.engine.downsample import DownsampleJob
from fleetwatch.engine.retention import DAY, RetentionJob
from fleetwatch.model.rollup import HOUR, MINUTE, Bucket, bucket_of
from fleetwatch.store import Store
from fleetwatch.store.rollups import HistoryItem, RollupRecord

pytestmark = pytest.mark.anyio

SPECS = {"cpu": CPU, "network": NETWORK}
T0 = 1_800_000_000.0  # a whole hour: T0 % 3600 == 0


def stats(total: float, recv: float = 0.0) -> dict[str, object]:
    return {
        "cpu": {"total": total, "user": total / 2, "system": total / 4, "idle": 100 - total},
        "network": [{"interface_name": "eth0", "bytes_recv_rate_per_sec": recv}],
    }


def test_hours_merge_minutes_weighted_by_count() -> None:
    first, second = Bucket(), Bucket()
    first.samples, second.samples = 2, 1
    first.add_totals("cpu", "total", 30.0, 10.0, 20.0, 2)
    second.add_totals("cpu", "total", 60.0, 60.0, 60.0, 1)
    assert first.stats()["cpu"]["total"] == [15.0, 10.0, 20.0, 2]
    hour = Bucket()
    for bucket in (first, second):
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


ITEMS = [
    HistoryItem("cpu", "total", None),
    HistoryItem("cpu", "user", None),
    HistoryItem("network", "bytes_recv_rate_per_sec", "interface_name"),
    HistoryItem("network", "bytes_sent_rate_per_sec", "interface_name"),
]


def reference_summary(
    snapshots: list[tuple[float, dict[str, Any]]], resolution: int
) -> dict[tuple[float, str | None, str | None], tuple[float, float, float, int]]:
    """What the database must compute, written out plainly: per bucket and item the sum, min,
    max and count of the JSON numbers (not flags, strings or nulls), and each bucket's samples."""
    values: dict[tuple[float, str | None, str | None], list[float]] = {}
    samples: dict[float, int] = {}
    for when, stats in snapshots:
        bucket = bucket_of(when, resolution)
        samples[bucket] = samples.get(bucket, 0) + 1
        for spec in ITEMS:
            body = stats.get(spec.plugin)
            if spec.key is None:
                found = [(spec.field, body.get(spec.field))] if isinstance(body, dict) else []
            else:
                found = [
                    (f"{element[spec.key]}_{spec.field}", element.get(spec.field))
                    for element in (body if isinstance(body, list) else [])
                    if isinstance(element, dict)
                    and isinstance(element.get(spec.key), str | int | float)
                    and not isinstance(element.get(spec.key), bool)
                ]
            for item, value in found:
                if isinstance(value, int | float) and not isinstance(value, bool):
                    values.setdefault((bucket, spec.plugin, item), []).append(float(value))
    expected = {key: (math.fsum(v), min(v), max(v), len(v)) for key, v in values.items()}
    for bucket, count in samples.items():
        expected[(bucket, None, None)] = (0.0, 0.0, 0.0, count)
    return expected


def odd_stats(rng: random.Random) -> dict[str, Any]:
    """Normalised stats with every kind of value a history item may meet."""
    oddities: list[Any] = [True, False, None, "7", [1], {"x": 1}, 0, -3, 2.5, 1e300, 10**15]

    def value() -> Any:
        return rng.choice(oddities) if rng.random() < 0.3 else round(rng.uniform(0, 100), 3)

    cpu: Any = {"total": value(), "user": value(), "idle": value(), "system": value()}
    network: Any = [
        {"interface_name": rng.choice(["eth0", "wlan0", "lo"]),
         "bytes_recv_rate_per_sec": value(), "bytes_sent_rate_per_sec": value()},
        {"interface_name": rng.choice([None, True, "eth1", 7]), "bytes_recv_rate_per_sec": value()},
        {"bytes_recv_rate_per_sec": value()},  # no name: not a series
        rng.choice(["eth9", 3, None]),  # not an object at all
    ]  # fmt: skip
    if rng.random() < 0.1:
        cpu = rng.choice(["busy", 42, [1, 2], None])  # a plugin that is not an object
    if rng.random() < 0.1:
        network = rng.choice([{"eth0": 1}, "down", None])
    return {"cpu": cpu, "network": network, "uptime": "3 days", "load": {"min1": 1.0}}


async def test_the_database_summarises_exactly_the_numbers(store: Store) -> None:
    system = await store.add_system("nas1")
    other = await store.add_system("other")
    rng = random.Random(5)
    snapshots = [(T0 + rng.uniform(0, 300), odd_stats(rng)) for _ in range(300)]
    for when, stats in snapshots:
        await store.add_snapshot(system.id, when, {}, stats, "push")
    await store.add_snapshot(other.id, T0 + 1, {}, {"cpu": {"total": 99.0}}, "push")
    rows = await store.snapshot_summaries(system.id, T0, T0 + 240, MINUTE, ITEMS)
    got = {(start, plugin, item): rest for start, plugin, item, *rest in rows}
    expected = reference_summary([s for s in snapshots if s[0] < T0 + 240], MINUTE)
    assert set(got) == set(expected)
    assert {key[0] for key in got} == {T0, T0 + 60, T0 + 120, T0 + 180}
    for key, (total, low, high, count) in expected.items():
        assert got[key] == [pytest.approx(total, rel=1e-12), low, high, count], key
    assert (T0, "network", "eth0_bytes_recv_rate_per_sec") in got
    assert await store.snapshot_summaries(system.id, T0 + 400, T0 + 500, MINUTE, ITEMS) == []


async def test_the_job_rolls_up_closed_minutes_then_hours(store: Store) -> None:
    a = await store.add_system("a")
    b = await store.add_system("b")
    # Two hours of a snapshot every 10 s for a, 0..99 % in a saw-tooth; b reports once.
    for n in range(720):
        await store.add_snapshot(a.id, T0 + n * 10, {}, stats(float(n % 100), n), "push")
    await store.add_snapshot(b.id, T0 + 30, {}, stats(50.0), "push")
    now = T0 + 2 * HOUR + 5  # the last minute closes at +2h, but has not settled for 10 s
    # Short windows and pages split the work into many reads; the result must not depend on it.
    job = DownsampleJob(store, SPECS, first_days=1, page=4, window=180, clock=lambda: now)
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


async def test_snapshots_on_a_window_boundary_are_counted_once(store: Store) -> None:
    a = await store.add_system("a")
    for n in range(7):  # three at T0, three at T0 + 120 (where the second window starts), one
        await store.add_snapshot(a.id, T0 + (n // 3) * 120, {}, stats(float(n)), "push")
    job = DownsampleJob(store, SPECS, first_days=1, window=120, clock=lambda: T0 + 400)
    assert await job.roll_up() == 3  # three minutes; their hour is not over
    minutes = await store.rollups(a.id, MINUTE, 0, T0 + 400, limit=10)
    assert [(m.bucket_start - T0, m.samples) for m in minutes] == [(0, 3), (120, 3), (240, 1)]
    assert minutes[1].stats["cpu"]["total"] == [4.0, 3.0, 5.0, 3]


async def test_a_quiet_stretch_is_skipped_not_walked(store: Store) -> None:
    a = await store.add_system("a")
    quiet = await store.add_system("quiet")
    later = T0 + 10 * DAY + 3 * MINUTE
    for when, total in ((T0 + 5, 10.0), (T0 + 15, 30.0), (later, 50.0)):
        await store.add_snapshot(a.id, when, {}, stats(total), "push")
    assert await store.first_snapshot_at(a.id, T0 + 10, later + 1) == T0 + 15
    assert await store.first_snapshot_at(a.id, T0 + 16, later) is None
    assert await store.first_snapshot_at(quiet.id, 0, later + 1) is None
    job = DownsampleJob(store, SPECS, first_days=30, clock=lambda: later + 2 * MINUTE)
    assert await job.roll_up() == 2 + 1  # two minutes ten days apart; T0's hour
    minutes = await store.rollups(a.id, MINUTE, 0, later + HOUR, limit=10)
    assert [(m.bucket_start, m.samples) for m in minutes] == [(T0, 2), (later, 1)]
    assert minutes[0].stats["cpu"]["total"] == [20.0, 10.0, 30.0, 2]
    assert await store.rollups(quiet.id, MINUTE, 0, later + HOUR, limit=10) == []


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
