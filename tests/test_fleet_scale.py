"""A hub that holds a large fleet: every fleet-wide read a page at a time (count/offset, the
filters, the total; count=0 for the whole body), gzip on request, and the per-minute roll-up
pass visiting only the systems that stored something, on both backends."""

from __future__ import annotations

import asyncio
import gzip
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hubs import CHEAP_HASHING, add_user, client_for, started

from fleetwatch.api.whole_fleet import WHOLE_SECONDS
from fleetwatch.app import Hub, build_hub
from fleetwatch.config import load_config
from fleetwatch.engine.downsample import DownsampleJob
from fleetwatch.model.rollup import HOUR, MINUTE, bucket_of
from fleetwatch.store import EventRecord

pytestmark = pytest.mark.anyio

SEEN, NEVER, STALE = 70, 8, 5  # pushed systems (STALE of them stale), never-seen systems
NOW = time.time()


@pytest.fixture
async def hub(store_url: str, tmp_path: Path) -> AsyncIterator[Hub]:
    settings = {("storage", "data_dir"): str(tmp_path), ("storage", "database"): store_url}
    the_hub = build_hub(load_config(env={}, flags=settings))
    the_hub.auth.hashing = the_hub.admin.hashing = CHEAP_HASHING
    await started(the_hub, rounds=1)
    store = the_hub.store
    for n in range(SEEN + NEVER):
        system = await store.add_system(f"node-{n:03d}", hostname=f"h{n}")
        if n % 10 == 0:
            await store.tag_system(system.name, add=["rack-a"])
        if n >= SEEN:
            continue
        stats = {"cpu": {"total": float(n)}, "system": {"hr_name": "Linux"}}
        await store.add_snapshot(system.id, NOW - 5, {"hostname": system.name}, stats, "push")
        await store.touch_system(system.id, NOW - 5, system.name)
        if n < STALE:
            await store.save_event(EventRecord(
                id=None, system_id=system.id, begin=NOW, end=-1, state="CRITICAL", type="STALE",
                value_max=1, value_avg=1, value_min=1, value_sum=1, count=1, desc="silent",
            ))  # fmt: skip
    yield the_hub
    await the_hub.stop()


async def reader(hub: Hub) -> dict[str, str]:
    return await add_user(hub, "reader", "reader password", "readonly")


def local_systems(hub: Hub) -> int:
    """The hub's own machine: a system of the fleet too (never seen: no recorder runs here)."""
    return 1


async def test_api_v1_systems_is_paged_and_filtered(hub: Hub) -> None:
    who = await reader(hub)
    everyone = SEEN + NEVER + local_systems(hub)
    async with client_for(hub) as c:
        first = (await c.get("/api/v1/systems", headers=who)).json()
        assert first["success"] is True
        assert (first["count"], first["offset"], first["total"]) == (50, 0, everyone)
        assert len(first["systems"]) == 50
        assert set(first["systems"][0]) >= {"name", "hostname", "stale", "current", "last_seen"}
        rest = (await c.get("/api/v1/systems?offset=50&count=100", headers=who)).json()
        names = [s["name"] for s in first["systems"] + rest["systems"]]
        assert len(names) == everyone == len(set(names))
        assert names == sorted(names)
        whole = (await c.get("/api/v1/systems?count=0", headers=who)).json()
        assert [s["name"] for s in whole["systems"]] == names
        assert whole["total"] == everyone
        stale = (await c.get("/api/v1/systems?status=stale&count=0", headers=who)).json()
        assert [s["name"] for s in stale["systems"]] == [f"node-{n:03d}" for n in range(STALE)]
        assert all(s["stale"] for s in stale["systems"])
        never = (await c.get("/api/v1/systems?status=never%20seen", headers=who)).json()
        assert never["total"] == NEVER + local_systems(hub)
        up = (await c.get("/api/v1/systems?status=up&count=1", headers=who)).json()
        assert up["total"] == SEEN - STALE
        assert up["count"] == 1
        tagged = (await c.get("/api/v1/systems?tag=rack-a", headers=who)).json()
        assert tagged["total"] == len(range(0, SEEN + NEVER, 10))
        named = (await c.get("/api/v1/systems?name=DE-01", headers=who)).json()
        assert [s["name"] for s in named["systems"]] == [f"node-{n:03d}" for n in range(10, 20)]
        literal = (await c.get("/api/v1/systems?name=%25", headers=who)).json()
        assert literal["total"] == 0  # % is a character, not a wildcard
        bad_ones = (("count=-1", "count"), ("offset=x", "offset"), ("status=gone", "status"),
                    ("tag=%20", "tag"), ("colour=red", "colour"), ("name=" + "n" * 201, "name"),
                    ("count=1&count=2", "count"))  # fmt: skip
        for bad, field in bad_ones:
            answer = await c.get(f"/api/v1/systems?{bad}", headers=who)
            assert answer.status_code == 400, bad
            assert field in answer.text


async def test_servers_lists_are_paged_with_the_total_in_a_header(hub: Hub) -> None:
    who = await reader(hub)
    everyone = SEEN + NEVER + local_systems(hub)
    async with client_for(hub) as c:
        page = await c.get("/api/servers/list?count=10&offset=5&with_details=1", headers=who)
        assert page.status_code == 200
        assert page.headers["x-total-count"] == str(everyone)
        entries = list(page.json().values())
        assert len(entries) == 10
        assert "current_stats" in entries[0]
        whole = (await c.get("/api/servers/list?count=0", headers=who)).json()
        assert len(whole) == everyone
        stale = (await c.get("/api/servers/list?status=stale", headers=who)).json()
        assert [e["connection_is_up"] for e in stale.values()] == [False] * STALE
        glances = await c.get("/api/4/serverslist?count=20", headers=who)
        assert glances.status_code == 200
        assert glances.headers["x-total-count"] == str(everyone)
        assert len(glances.json()) == 20
        pushed = (await c.get("/api/4/serverslist?name=node-012", headers=who)).json()
        assert pushed[0]["name"] == "node-012"
        assert pushed[0]["cpu_total"] == 12.0  # the newest stats, read in one statement
        assert pushed[0]["status"] == "ONLINE"
        stale_ones = (await c.get("/api/4/serverslist?status=stale", headers=who)).json()
        assert {s["status"] for s in stale_ones} == {"OFFLINE"}
        assert len((await c.get("/api/4/serverslist?count=0", headers=who)).json()) == everyone
        bad = await c.get("/api/4/serverslist?count=many", headers=who)
        assert bad.status_code == 400
        assert "count" in bad.text


async def test_whole_lists_are_built_once_a_second_and_then_follow_the_fleet(hub: Hub) -> None:
    who = await reader(hub)
    everyone = SEEN + NEVER + local_systems(hub)
    wholes = ("/api/v1/systems?count=0", "/api/servers/list?count=0",
              "/api/4/serverslist?count=0")  # fmt: skip
    async with client_for(hub) as c:
        first = [await c.get(url, headers=who) for url in wholes]
        await hub.store.add_system("newcomer", hostname="new")
        again = [await c.get(url, headers=who) for url in wholes]
        # Within the second: the same body (built once), whatever changed meanwhile.
        assert [r.content for r in again] == [r.content for r in first]
        assert first[0].json()["total"] == everyone
        page = await c.get("/api/v1/systems?count=5&name=newcomer", headers=who)
        assert page.json()["total"] == 1  # pages are never kept
        await asyncio.sleep(WHOLE_SECONDS + 0.05)
        later = [await c.get(url, headers=who) for url in wholes]
        assert later[0].json()["total"] == everyone + 1
        assert len(later[1].json()) == everyone + 1
        assert later[1].headers["x-total-count"] == str(everyone + 1)
        assert len(later[2].json()) == everyone + 1
        assert later[2].headers["x-total-count"] == str(everyone + 1)
        details = await c.get("/api/servers/list?count=0&with_details=1", headers=who)
        assert all("current_stats" in e for e in details.json().values())


async def test_the_console_lists_a_page_and_counts_the_whole_fleet(hub: Hub) -> None:
    who = await add_user(hub, "boss", "boss password", "admin")
    everyone = SEEN + NEVER + local_systems(hub)
    async with client_for(hub) as c:
        page = (await c.get("/fleet.json?count=10", headers=who)).json()
        assert len(page["rows"]) == 10
        assert (page["total"], page["more"]) == (everyone, everyone - 10)
        assert page["counts"] == {"up": SEEN - STALE, "stale": STALE,
                                  "never seen": NEVER + local_systems(hub)}  # fmt: skip
        assert page["open_events"] == STALE
        assert page["tags"] == ["rack-a"]
        stale = [p for p in page["problems"] if p["kind"] == "event"]
        assert len(stale) == STALE
        assert {p["name"] for p in stale} == {f"node-{n:03d}" for n in range(STALE)}
        filtered = (await c.get("/fleet.json?status=stale&count=0", headers=who)).json()
        assert len(filtered["rows"]) == STALE
        assert filtered["more"] == 0
        assert (await c.get("/fleet.json?count=x", headers=who)).status_code == 400


async def test_large_reads_are_gzipped_on_request(hub: Hub) -> None:
    who = await reader(hub)
    transport = httpx.ASGITransport(app=hub.app)
    # httpx decodes gzip for us; the raw bytes tell what was sent.
    async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1") as c:
        asked = {**who, "accept-encoding": "gzip"}
        async with c.stream("GET", "/api/v1/systems?count=0", headers=asked) as packed:
            raw = b"".join([chunk async for chunk in packed.aiter_raw()])
        assert packed.headers["content-encoding"] == "gzip"
        assert b'"systems"' in gzip.decompress(raw)
        plain = await c.get(
            "/api/v1/systems?count=0", headers={**who, "accept-encoding": "identity"}
        )
        assert "content-encoding" not in plain.headers
        assert len(raw) < len(plain.content) / 3
        tiny = await c.get("/api/4/status", headers=asked)
        assert "content-encoding" not in tiny.headers  # too small to be worth it
        glances = await c.get("/api/4/serverslist?count=0", headers=asked)
        assert glances.headers.get("content-encoding") == "gzip"


class CountingStore:
    """The real store, counting the roll-up statements the pass issues."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.summaries: list[int] = []

    def __getattr__(self, name: str) -> Any:
        return getattr(self.store, name)

    async def snapshot_summaries(self, system_id: int, *args: Any) -> Any:
        self.summaries.append(system_id)
        return await self.store.snapshot_summaries(system_id, *args)


def first_pass_time() -> float:
    """When the first pass runs: the seeded snapshots' minute is closed, and no hour closes in
    the 12 minutes the test goes on (a closing hour rolls up every system that spoke in it)."""
    start = NOW + 2 * MINUTE
    if bucket_of(start + 15 * MINUTE, HOUR) > bucket_of(NOW, HOUR):
        start = bucket_of(NOW, HOUR) + HOUR + 2 * MINUTE
    return start


async def test_the_roll_up_pass_visits_only_systems_that_reported(hub: Hub) -> None:
    store = hub.store
    spy = CountingStore(store)
    clock = [first_pass_time()]
    job = DownsampleJob(spy, hub.live.specs, clock=lambda: clock[0], first_days=0.05)
    await job.roll_up()  # the first pass rolls up the seeded snapshots
    assert len(spy.summaries) == SEEN
    spy.summaries.clear()
    clock[0] += 5 * MINUTE
    systems = {s.name: s.id for s in await store.list_systems()}
    busy = [systems["node-003"], systems["node-040"]]
    for system_id in busy:
        stats = {"cpu": {"total": 50.0}}
        await store.add_snapshot(system_id, clock[0] - 2 * MINUTE, {}, stats, "push")
    assert await job.roll_up() > 0
    assert sorted(spy.summaries) == sorted(busy)  # not one statement per silent system
    spy.summaries.clear()
    clock[0] += 5 * MINUTE
    assert await job.roll_up() == 0
    assert spy.summaries == []
