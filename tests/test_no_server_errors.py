"""Issue 17, item 4: each request that was a 500 is now a 4xx naming what is wrong (or a 503
while the database is down), on SQLite and PostgreSQL.

U+0000 is refused everywhere (PostgreSQL cannot store it; SQLite refuses it alike), with a 400
naming the field; numbers out of range, JSON nested too deep and OP5 filters too big are 400s.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hubs import CHEAP_HASHING, add_user, basic, client_for

from fleetwatch.api.json_body import MAX_DEPTH
from fleetwatch.app import Hub, build_hub
from fleetwatch.auth.admin import Actor
from fleetwatch.config import load_config

pytestmark = pytest.mark.anyio

NUL = "a\u0000b"
SUBMIT = "/api/external/submit_stats"
SERVICE_RESULT = "/api/command/PROCESS_SERVICE_CHECK_RESULT"


@pytest.fixture
async def hub(store_url: str, tmp_path: Path) -> AsyncIterator[Hub]:
    flags = {("storage", "data_dir"): str(tmp_path), ("storage", "database"): store_url}
    the_hub = build_hub(load_config(env={}, flags=flags), collectors=[])
    the_hub.auth.hashing = the_hub.admin.hashing = CHEAP_HASHING
    await the_hub.prepare()
    await the_hub.store.add_check_object("host", "web")
    await the_hub.store.add_check_object("service", "web", "disk")
    yield the_hub
    await the_hub.store.close()


@pytest.fixture
async def client(hub: Hub) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(hub) as the_client:
        the_client.headers.update(await add_user(hub, "admin", "pw", "admin"))
        yield the_client


@pytest.fixture
async def token(hub: Hub) -> str:
    _, secret = await hub.admin.add_system(Actor("test", "127.0.0.1"), "box")
    return secret


def nested(levels: int) -> Any:
    value: Any = 1
    for _ in range(levels):
        value = {"x": value}
    return value


@pytest.mark.parametrize(
    ("document", "named"),
    [
        ({"hostname": "h", "extras": {"note": NUL}}, "extras.note"),
        ({"hostname": NUL}, "hostname"),
        ({"hostname": "h", "disk": [{"Name": NUL}]}, "disk[0].Name"),
        ({"hostname": "h", NUL: 1}, "a key"),
        ({"hostname": "h", "uptime_seconds": 1e14}, "uptime_seconds"),
        ({"hostname": "h", "extras": nested(300)}, f"deeper than {MAX_DEPTH} levels"),
        ({"hostname": "h", "extras": nested(MAX_DEPTH)}, f"deeper than {MAX_DEPTH} levels"),
    ],
    ids=["extras", "hostname", "disk-name", "key", "uptime", "deep", "just-too-deep"],
)
async def test_bad_submissions_are_a_400_naming_the_field(
    client: httpx.AsyncClient, token: str, document: dict[str, Any], named: str
) -> None:
    response = await client.put(SUBMIT, json=document, headers=basic("", token))
    assert response.status_code == 400, response.text
    assert named in response.json()["error"]
    fine = await client.put(SUBMIT, json={"hostname": "h", "extras": nested(MAX_DEPTH - 2)},
                            headers=basic("", token))  # fmt: skip
    assert fine.status_code == 200, fine.text


async def test_submit_alerts_with_nul_is_a_400(client: httpx.AsyncClient, token: str) -> None:
    alert = {"a1": {"source": "s", "type": "warning", "time_t": time.time(), "text": NUL}}
    response = await client.put("/api/external/submit_alerts", json=alert,
                                headers=basic("", token))  # fmt: skip
    assert response.status_code == 400, response.text
    assert "a1.text" in response.json()["error"]


@pytest.mark.parametrize(
    ("path", "body", "named"),
    [
        (SERVICE_RESULT, {"host_name": "web", "service_description": "disk",
                          "status_code": 0, "plugin_output": NUL}, "plugin_output"),
        ("/api/config/host", {"host_name": NUL}, "host_name"),
        ("/api/config/host", {"host_name": "db", "notes": NUL}, "notes"),
        ("/api/command/ACKNOWLEDGE_SVC_PROBLEM", {"host_name": "web",
         "service_description": "disk", "comment": NUL}, "comment"),
        ("/api/command/DEL_SVC_DOWNTIME", {"host_name": "web", "service_description": "disk",
                                           "downtime_id": 10**29}, "downtime_id"),
        ("/api/command/SCHEDULE_SVC_DOWNTIME", {"host_name": "web",
         "service_description": "disk", "start_time": 0, "end_time": 1e300}, "end_time"),
    ],
    ids=["plugin-output", "host-name", "notes", "comment", "downtime-id", "end-time"],
)  # fmt: skip
async def test_bad_op5_fields_are_a_400_naming_the_field(
    client: httpx.AsyncClient, path: str, body: dict[str, Any], named: str
) -> None:
    for send in ({"json": body}, {"data": {k: str(v) for k, v in body.items()}}):
        response = await client.post(path, **send)
        assert response.status_code == 400, response.text
        assert named in response.json()["full_error"]


async def test_a_login_name_with_nul_is_refused(client: httpx.AsyncClient) -> None:
    login = await client.post("/api/v1/login", json={"user": NUL, "password": "pw"})
    assert login.status_code == 400, login.text
    assert "user" in login.json()["error"]
    header = basic(NUL, "pw")
    refused = await client.get("/api/v1/me", headers=header)
    assert refused.status_code == 401, refused.text


@pytest.mark.parametrize(
    "path",
    [
        "/api/v1/statistics.list?offset=" + "1" * 30,
        "/api/v1/statistics.list?offset=" + "9" * 5000,
        "/api/v1/statistics.list?count=%C2%B2",
        "/api/status/host/a%00b",
        "/api/v1/statistics.list?query=%7B%22hostname%22%3A%22a%00%22%7D",
        "/api/4/processes/" + "1" * 30,
        "/api/4/processes/" + "9" * 5000,
    ],
    ids=["offset", "offset-5000-digits", "count-superscript", "host-nul", "query-nul",
         "pid", "pid-5000-digits"],
)  # fmt: skip
async def test_out_of_range_url_values_are_a_400(client: httpx.AsyncClient, path: str) -> None:
    response = await client.get(path)
    assert response.status_code == 400, response.text


async def test_picking_a_huge_pid_is_a_400(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/4/processes/extended/" + "1" * 30)
    assert response.status_code == 400, response.text
    assert "pid" in response.json()["detail"]


async def test_a_pushed_system_without_processes(client: httpx.AsyncClient, token: str) -> None:
    assert (await client.put(SUBMIT, json={"hostname": "h"}, headers=basic("", token))).is_success
    for path in ("processes/1", "processes/extended"):
        response = await client.get(f"/systems/box/api/4/{path}")
        assert response.status_code in (200, 404), response.text


async def test_a_pushed_system_while_the_store_is_down(hub: Hub, client: httpx.AsyncClient,
                                                       token: str) -> None:  # fmt: skip
    assert (await client.put(SUBMIT, json={"hostname": "h"}, headers=basic("", token))).is_success
    await hub.store.close()  # what a stopped database looks like to the routes: unavailable
    for path in ("processes/1", "cpu", "cpu/history"):
        response = await client.get(f"/systems/box/api/4/{path}")
        assert response.status_code == 503, response.text
        assert "retry-after" in response.headers
    await hub.store.open()
