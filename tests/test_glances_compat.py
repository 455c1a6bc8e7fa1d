"""What Glances' own REST test suite expects of /api/4, in process and against a real server:
``help`` an object, a value with no match an empty list, Glances-shaped config sections, and
``serverslist`` for the central browser (never a credential)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from hubs import client_for, make_hub, started
from serving import ServeProcess, run_cli
from test_ingest_submit_stats import SCRIPT_DATA

from fleetwatch.app import Hub
from fleetwatch.auth.admin import Actor

pytestmark = pytest.mark.anyio

BROWSER_KEYS = {"key", "name", "alias", "ip", "port", "protocol", "status", "type", "columns"}


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[Hub]:
    the_hub = await started(make_hub(tmp_path), rounds=2)
    _, token = await the_hub.admin.add_system(Actor("t", "127.0.0.1"), "nas1")
    await the_hub.admin.add_system(Actor("t", "127.0.0.1"), "never")
    async with client_for(the_hub) as c:
        sent = await c.put("/api/external/submit_stats", content=SCRIPT_DATA, auth=("", token))
        assert sent.status_code == 200
    yield the_hub
    await the_hub.stop()


async def test_help_is_an_object(hub: Hub) -> None:
    async with client_for(hub) as c:
        answer = (await c.get("/api/4/help")).json()
    assert isinstance(answer, dict)
    assert answer["version"].startswith("Fleetwatch ")


async def test_a_value_with_no_match_is_an_empty_list(hub: Hub) -> None:
    async with client_for(hub) as c:
        none = await c.get("/api/4/processlist/pid/value/0")
        mount = await c.get("/api/4/fs/mnt_point/value/no-such-mount")
        unknown = await c.get("/api/4/fs/nope/value/x")
    assert none.status_code == 200
    assert none.json() == {"0": []}
    assert mount.json() == {"no-such-mount": []}
    assert unknown.status_code == 404  # an unknown field is still an error


async def test_config_has_glances_sections_beside_the_hubs(hub: Hub) -> None:
    async with client_for(hub) as c:
        config = (await c.get("/api/4/config")).json()
        refresh = (await c.get("/api/4/config/global/refresh")).json()
        careful = (await c.get("/api/4/config/cpu/user_careful")).json()
    assert refresh == "2"
    assert careful == "50"
    assert config["server"]["port"] == 61208  # the hub's own sections keep their types
    assert config["storage"]["database"] == ""


async def test_serverslist_in_the_browsers_shape(hub: Hub) -> None:
    async with client_for(hub) as c:
        servers = (await c.get("/api/4/serverslist")).json()
    by_name = {s["name"]: s for s in servers}
    nas = by_name["nas1"]
    assert nas.keys() >= BROWSER_KEYS
    assert nas["status"] == "ONLINE"
    assert nas["alias"] == "TESTHOST"
    assert nas["cpu_total"] == 60.0
    assert nas["path"] == "/systems/nas1/api/4"
    assert by_name["never"]["status"] == "OFFLINE"
    local = [s for s in servers if s["path"] == "/api/4"]
    assert len(local) == 1
    assert local[0]["status"] == "ONLINE"
    for server in servers:
        assert not {"password", "username", "uri", "token"} & server.keys()


async def test_a_stale_system_is_offline(hub: Hub) -> None:
    assert hub.staleness is not None
    hub.staleness.clock = lambda: 1e12
    await hub.staleness.check()
    async with client_for(hub) as c:
        servers = (await c.get("/api/4/serverslist")).json()
    assert {s["name"]: s["status"] for s in servers}["nas1"] == "OFFLINE"


@pytest.mark.e2e
def test_against_a_real_server(tmp_path: Path) -> None:
    data = tmp_path / "hub"
    with ServeProcess(data) as proc:
        token = run_cli("system", "add", "web1", "--data-dir", str(data)).stdout.strip()
        pushed = httpx.put(f"{proc.url}/api/external/submit_stats", content=SCRIPT_DATA,
                           auth=("", token), timeout=10)  # fmt: skip
        assert pushed.status_code == 200
        api = f"{proc.url}/api/4"
        assert isinstance(httpx.get(f"{api}/help").json(), dict)
        assert httpx.get(f"{api}/processlist/pid/value/0").json() == {"0": []}
        assert httpx.get(f"{api}/config/global/refresh").json() == "2"
        servers = httpx.get(f"{api}/serverslist").json()
        assert {"web1"} <= {s["name"] for s in servers}
        assert all(s.keys() >= BROWSER_KEYS and "password" not in s for s in servers)
