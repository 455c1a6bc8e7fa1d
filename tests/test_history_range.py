"""History over a range: its resolution follows the range; long ranges read rollups."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from hubs import CHEAP_HASHING, add_user, client_for, started

from fleetwatch.api.errors import BadRequest
from fleetwatch.api.history_range import RAW, Retention, parse_range, pick_resolution
from fleetwatch.app import Hub, build_hub
from fleetwatch.config import load_config
from fleetwatch.engine.downsample import DownsampleJob
from fleetwatch.model.rollup import HOUR, MINUTE

pytestmark = pytest.mark.anyio

NOW = 2_000_000_000.0
DAY = 86400.0
KEPT = Retention(raw_days=30, minute_days=90, hour_days=730, history_size=1200)


def test_the_resolution_follows_the_span_and_the_retention() -> None:
    assert pick_resolution(NOW - 3 * 3600, NOW, NOW, KEPT) == RAW
    assert pick_resolution(NOW - 12 * 3600, NOW, NOW, KEPT) == MINUTE  # 720 minutes
    assert pick_resolution(NOW - 30 * DAY, NOW, NOW, KEPT) == HOUR  # 720 hours
    # An hour of 40 days ago: the raw snapshots are pruned, the minutes are still kept.
    assert pick_resolution(NOW - 40 * DAY, NOW - 40 * DAY + 3600, NOW, KEPT) == MINUTE
    assert pick_resolution(NOW - 100 * DAY, NOW - 100 * DAY + 3600, NOW, KEPT) == HOUR
    forever = Retention(raw_days=0, minute_days=0, hour_days=0, history_size=1200)
    assert pick_resolution(0, 3600, NOW, forever) == RAW


def test_ranges_are_read_from_the_query_string() -> None:
    assert parse_range(b"", NOW) is None
    assert parse_range(b"range=30d", NOW) == (NOW - 30 * DAY, NOW)
    assert parse_range(b"range=90m&until=1000000", NOW) == (1_000_000 - 5400, 1_000_000)
    assert parse_range(b"since=1000&range=60", NOW) == (1000, 1060)
    assert parse_range(b"since=1000", NOW) == (1000, NOW)
    assert parse_range(b"since=1970-01-01T00:16:40%2B00:00&until=2000", NOW) == (1000, 2000)
    for bad in (b"range=soon", b"range=0", b"since=yesterday", b"since=10&until=5"):
        with pytest.raises(BadRequest):
            parse_range(bad, NOW)


@pytest.fixture
async def hub(store_url: str, tmp_path: Path) -> AsyncIterator[Hub]:
    settings = {("storage", "data_dir"): str(tmp_path), ("storage", "database"): store_url}
    the_hub = build_hub(load_config(env={}, flags=settings))
    the_hub.auth.hashing = the_hub.admin.hashing = CHEAP_HASHING
    yield await started(the_hub, rounds=1)
    await the_hub.stop()


async def test_a_long_range_is_served_from_hourly_rollups(hub: Hub) -> None:
    reader = await add_user(hub, "reader", "reader password", "readonly")
    system = await hub.store.add_system("nas1")
    # Not in an hour's first minutes, whose previous hour waits for them to settle, and one
    # clock for the snapshots and the roll-up: a run across an hour's turn (the whole suite on
    # 2 cores, at 18:00) rolled up 47 hours.
    now = time.time()
    now -= max(0.0, 120 - now % HOUR)
    # Two days of a snapshot every 5 minutes from a whole hour, alternating 0 % and 100 %:
    # every hour averages 50.
    first = (now // HOUR - 48) * HOUR
    raw = int((now - first) // 300)
    for n in range(raw):
        total = 100.0 * (n % 2)
        cpu = {"total": total, "user": total, "system": 0.0}
        await hub.store.add_snapshot(system.id, first + n * 300, {}, {"cpu": cpu}, "push")
    await DownsampleJob(hub.store, hub.live.specs, clock=lambda: now).roll_up()
    hours_done = await hub.store.rollup_watermark(HOUR)
    assert hours_done is not None
    async with client_for(hub) as c:
        base = "/systems/nas1/api/4/cpu/total/history"
        month = await c.get(f"{base}?range=30d", headers=reader)
        assert month.status_code == 200
        assert month.headers["x-fleetwatch-resolution"] == "3600"
        points = month.json()["total"]
        rolled = [value for _, value in points][: int((hours_done - first) // HOUR)]
        assert len(rolled) == 48
        assert set(rolled) == {50.0}  # hourly averages, not raw values
        assert len(points) < 48 + 60 + 5  # the not-yet-hourly tail is minutes and a few raw

        half_day = await c.get(f"{base}?range=12h", headers=reader)
        assert half_day.headers["x-fleetwatch-resolution"] == "60"
        assert 130 < len(half_day.json()["total"]) <= 145  # one 5-minute snapshot per minute

        hour = await c.get(f"{base}?range=1h", headers=reader)
        assert hour.headers["x-fleetwatch-resolution"] == "raw"
        assert {value for _, value in hour.json()["total"]} == {0.0, 100.0}
        assert len((await c.get(f"{base}/5?range=30d", headers=reader)).json()["total"]) == 5

        latest = await c.get(base, headers=reader)  # no range: the newest raw points
        assert latest.headers["x-fleetwatch-resolution"] == "raw"
        assert len(latest.json()["total"]) == min(raw, 1200)
        assert latest.json()["total"][-1][1] == 100.0 * ((raw - 1) % 2)

        bad = await c.get(f"{base}?range=soon", headers=reader)
        assert bad.status_code == 400
        assert "range" in bad.json()["detail"]
        plain = await c.get("/systems/nas1/api/4/cpu/total?range=30d", headers=reader)
        assert "x-fleetwatch-resolution" not in plain.headers
