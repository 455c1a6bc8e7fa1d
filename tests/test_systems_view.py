"""/systems/<name>/api/4: a pushed system read through the Glances routes."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
from hubs import add_user, client_for, make_hub, started
from test_ingest_submit_stats import REQUEST_EXAMPLE, SCRIPT_DATA

from fleetwatch.app import Hub
from fleetwatch.auth.admin import Actor

pytestmark = pytest.mark.anyio


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[Hub]:
    the_hub = await started(make_hub(tmp_path), rounds=1)
    _, token = await the_hub.admin.add_system(Actor("t", "127.0.0.1"), "nas1")
    async with client_for(the_hub) as c:
        for body in (SCRIPT_DATA, SCRIPT_DATA):
            assert (
                await c.put("/api/external/submit_stats", content=body, auth=("", token))
            ).status_code == 200
    assert the_hub.last_seen is not None
    await the_hub.last_seen.flush()  # written a moment after the snapshot; now, for the test
    yield the_hub
    await the_hub.stop()


async def test_glances_routes_over_the_latest_snapshot(hub: Hub) -> None:
    reader = await add_user(hub, "reader", "reader password", "readonly")
    async with client_for(hub) as c:
        base = "/systems/nas1/api/4"
        assert (await c.get(f"{base}/cpu", headers=reader)).json()["total"] == 60.0
        assert (await c.get(f"{base}/cpu/total", headers=reader)).json() == {"total": 60.0}
        plugins = (await c.get(f"{base}/pluginslist", headers=reader)).json()
        assert plugins == sorted(
            ["core", "cpu", "diskio", "fs", "mem", "percpu", "quicklook", "sensors", "system"]
        )
        everything = (await c.get(f"{base}/all", headers=reader)).json()
        assert everything["system"]["hostname"] == "TESTHOST"
        assert (await c.get(f"{base}/diskio/disk_name/value/ada0", headers=reader)).json()["ada0"][
            0
        ]["read_bytes_rate_per_sec"] == 60 * 1024
        history = (await c.get(f"{base}/cpu/total/history", headers=reader)).json()
        assert [value for _, value in history["total"]] == [60.0, 60.0]
        views = (await c.get(f"{base}/cpu/views", headers=reader)).json()
        assert views["total"]["decoration"] == "OK"
        assert (await c.get(f"{base}/network", headers=reader)).status_code == 404  # not sent


async def test_a_newer_snapshot_replaces_the_view(hub: Hub) -> None:
    reader = await add_user(hub, "reader2", "reader password", "readonly")
    token = await hub.admin.system_token(Actor("t", "127.0.0.1"), "nas1", "second")
    async with client_for(hub) as c:
        body = orjson.dumps(REQUEST_EXAMPLE)
        assert (
            await c.put("/api/external/submit_stats", content=body, auth=("", token))
        ).status_code == 200
        net = (await c.get("/systems/nas1/api/4/network", headers=reader)).json()
        assert net[0]["interface_name"] == "igb0"


async def test_access_and_unknown_systems(hub: Hub) -> None:
    nobody = await add_user(hub, "nobody", "nobody password")
    reader = await add_user(hub, "reader3", "reader password", "readonly")
    async with client_for(hub) as c:
        anonymous = await c.get("/systems/nas1/api/4/cpu")
        assert anonymous.status_code == 401  # no anonymous read outside the hub's own /api/4
        assert "detail" in anonymous.json()
        assert (await c.get("/systems/nas1/api/4/cpu", headers=nobody)).status_code == 403
        unknown = await c.get("/systems/ghost/api/4/cpu", headers=reader)
        assert unknown.status_code == 404
        assert "ghost" in unknown.json()["detail"]
        assert (await c.get("/systems/nas1/api/4/nope", headers=reader)).status_code == 404
        assert (
            await c.post("/systems/nas1/api/4/events/clear/all", headers=reader)
        ).status_code == 405


async def test_the_fleet_overview(hub: Hub) -> None:
    reader = await add_user(hub, "reader4", "reader password", "readonly")
    internal = await hub.store.get_system("fleetwatch-checks")  # made by the checks service
    assert internal is not None
    assert internal.source == "checks"
    async with client_for(hub) as c:
        data = (await c.get("/api/v1/systems", headers=reader)).json()
        assert data["success"] is True
        systems = {s["name"]: s for s in data["systems"]}
        nas1 = systems["nas1"]
        assert nas1["hostname"] == "TESTHOST"
        assert nas1["version"] == "TESTVERSION"
        assert nas1["stale"] is False
        assert nas1["interval"] is not None  # two submissions: one interval
        assert nas1["current"]["cpu_percent"] == 60.0
        assert nas1["current"]["storage_percent"] == round(100 * 1523 / 4096, 1)
        assert nas1["last_seen"].endswith("Z")
        assert any(s["source"] == "local" for s in data["systems"])  # the hub's own machine
        assert "fleetwatch-checks" not in systems

        servers = (await c.get("/api/servers/list", headers=reader)).json()
        entry = next(v for v in servers.values() if v["nickname"] == "nas1")
        assert entry["connection_is_up"] is True
        assert entry["id"] in servers
        assert "current_stats" not in entry
        detailed = (await c.get("/api/servers/list?with_details=true", headers=reader)).json()
        stats = next(v for v in detailed.values() if v["nickname"] == "nas1")["current_stats"]
        assert stats["cpu_num"] == 1
        assert stats["memory_bytes"] == 180 * 4096
        assert (await c.get("/api/v1/systems")).status_code == 401
