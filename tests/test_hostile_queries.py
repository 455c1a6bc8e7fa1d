"""Issue 17, item 1: the cost of one request is bounded, on SQLite and PostgreSQL.

Regular expressions run in RE2 (no catastrophic backtracking), patterns either engine cannot
run are a 400 naming the field, a query's size is bounded, and a list request ends within its
time limit plus a second, however many statements it needs. OP5 filters and perfdata too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import orjson
import pytest
from hubs import CHEAP_HASHING, add_user, client_for

from fleetwatch.api.op5_filter import MAX_COMPARISONS, MAX_NESTING
from fleetwatch.app import Hub, build_hub
from fleetwatch.config import load_config
from fleetwatch.ingest.perfdata import MAX_LABELS
from fleetwatch.store.query_parse import MAX_CONDITIONS

pytestmark = pytest.mark.anyio

EVIL = "a" * 30 + "!"  # (a+)+$ against it: minutes in a backtracking engine
TIME_LIMIT = 2.0
LIST = "/api/v1/statistics.list"
SERVICE_RESULT = "/api/command/PROCESS_SERVICE_CHECK_RESULT"


@pytest.fixture
async def hub(store_url: str, tmp_path: Path) -> AsyncIterator[Hub]:
    flags = {("storage", "data_dir"): str(tmp_path), ("storage", "database"): store_url,
             ("query", "time_limit_seconds"): TIME_LIMIT}  # fmt: skip
    the_hub = build_hub(load_config(env={}, flags=flags), collectors=[])
    the_hub.auth.hashing = the_hub.admin.hashing = CHEAP_HASHING
    await the_hub.prepare()
    system = await the_hub.store.add_system("box")
    writes = []
    for number in range(40):
        disks = [{"Name": f"ada{i}", "KBps read": number + i} for i in range(4)]
        document = {"hostname": EVIL if number % 10 == 0 else f"h{number}", "disk": disks}
        writes.append(the_hub.store.add_snapshot(system.id, time.time(), document, {}, "push"))
    await asyncio.gather(*writes)
    await the_hub.store.add_check_object("host", "web")
    await the_hub.store.add_check_object("service", "web", "disk")
    yield the_hub
    await the_hub.store.close()


@pytest.fixture
async def client(hub: Hub) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(hub) as the_client:
        the_client.headers.update(await add_user(hub, "admin", "pw", "admin"))
        yield the_client


async def listed(client: httpx.AsyncClient, query: Any) -> httpx.Response:
    return await client.get(LIST, params={"query": orjson.dumps(query).decode()})


async def test_a_catastrophic_pattern_is_answered_at_once(client: httpx.AsyncClient) -> None:
    started = time.monotonic()
    response = await listed(client, {"hostname": {"$regex": "(a+)+$"}})
    assert response.status_code == 200, response.text
    assert response.json()["total"] == 0
    assert time.monotonic() - started < TIME_LIMIT
    found = await listed(client, {"hostname": {"$regex": "^a+!$"}})
    assert found.json()["total"] == 4


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        (r"(a)\1", "backreferences"),
        ("(?=a)", "look-around"),
        ("a{0,256}", "counts above 255"),
        ("[[:foo:]]", "not a valid regular expression"),
        ("x" * 1001, "longer than 1000"),
    ],
)
async def test_patterns_either_engine_refuses_are_a_400(
    client: httpx.AsyncClient, pattern: str, reason: str
) -> None:
    response = await listed(client, {"hostname": {"$regex": pattern}})
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["errorType"] == "error-invalid-query"
    assert "$regex of 'hostname'" in body["error"]
    assert reason in body["error"]


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)
async def test_a_pattern_only_postgresql_refuses_is_a_400(client: httpx.AsyncClient) -> None:
    # RE2 reads \pL as "a letter"; PostgreSQL's engine has no \p: refused at the boundary.
    response = await listed(client, {"hostname": {"$regex": r"\pL"}})
    assert response.status_code == 400, response.text
    assert response.json()["errorType"] == "error-invalid-query"
    assert "regular expression" in response.json()["error"]


async def test_many_elem_match_clauses_end_within_the_limit(client: httpx.AsyncClient) -> None:
    # 100 clauses took 24 s on PostgreSQL with a 10 s limit: JIT compilation ignores it.
    clauses = [{"disk": {"$elemMatch": {"Name": f"ada{i}", "KBps read": {"$gt": i}}}}
               for i in range(100)]  # fmt: skip
    started = time.monotonic()
    response = await listed(client, {"$or": clauses})
    assert time.monotonic() - started < TIME_LIMIT + 1
    assert response.status_code in (200, 503), response.text


async def test_the_number_of_conditions_is_bounded(client: httpx.AsyncClient) -> None:
    clauses = [{"hostname": f"h{i}"} for i in range(MAX_CONDITIONS + 1)]
    response = await listed(client, {"$or": clauses})
    assert response.status_code == 400
    assert f"at most {MAX_CONDITIONS} are allowed" in response.json()["error"]


@pytest.mark.parametrize("store_url", ["sqlite"], indirect=True)
async def test_sqlite_stops_a_runaway_query_at_its_limit(
    hub: Hub, client: httpx.AsyncClient
) -> None:
    system = await hub.store.add_system("many")
    disks = [{"Name": f"ada{i}", "KBps read": i} for i in range(20)]
    await asyncio.gather(*(hub.store.add_snapshot(system.id, time.time(), {"hostname": "x",
                           "disk": disks}, {}, "push") for _ in range(3000)))  # fmt: skip
    clauses = [{"disk": {"$elemMatch": {"Name": f"none{i}", "KBps read": {"$gt": i}}}}
               for i in range(150)]  # fmt: skip
    started = time.monotonic()
    response = await listed(client, {"$or": clauses})
    assert time.monotonic() - started < TIME_LIMIT + 1
    assert response.status_code == 503, response.text
    assert "ran past" in response.json()["error"]


# -- OP5 filters


async def filtered(client: httpx.AsyncClient, text: str) -> httpx.Response:
    return await client.get("/api/filter/query", params={"query": text})


async def test_a_catastrophic_filter_pattern_is_answered_at_once(
    hub: Hub, client: httpx.AsyncClient
) -> None:
    result = {"host_name": "web", "service_description": "disk", "status_code": 0,
              "plugin_output": EVIL}  # fmt: skip
    assert (await client.post(SERVICE_RESULT, json=result)).status_code == 200
    started = time.monotonic()
    response = await filtered(client, '[services] plugin_output ~ "(a+)+$"')
    assert response.status_code == 200, response.text
    assert response.json() == []
    assert time.monotonic() - started < TIME_LIMIT
    found = await filtered(client, '[services] plugin_output ~~ "^A+!$"')
    assert [row["description"] for row in found.json()] == ["disk"]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('[services] plugin_output ~ "(a)\\\\1"', "backreferences"),
        ("[services] " + "(" * 1000 + "state = 0" + ")" * 1000, f"at most {MAX_NESTING} deep"),
        ("[services] " + "not " * 1000 + "state = 0", f"at most {MAX_NESTING} deep"),
        ("[services] " + " or ".join(["state = 0"] * 1000), "at most 4096 characters"),
        ("[services] " + " or ".join(["state=0"] * (MAX_COMPARISONS + 1)),
         f"at most {MAX_COMPARISONS} comparisons"),
    ],
    ids=["backreference", "parentheses", "nots", "long", "comparisons"],
)  # fmt: skip
async def test_filters_beyond_the_bounds_are_a_400(
    client: httpx.AsyncClient, text: str, reason: str
) -> None:
    for endpoint in ("query", "count"):
        response = await client.get(f"/api/filter/{endpoint}", params={"query": text})
        assert response.status_code == 400, response.text
        assert reason in response.json()["full_error"]


# -- perfdata


async def test_perfdata_labels_are_bounded(hub: Hub, client: httpx.AsyncClient) -> None:
    def result(labels: int) -> dict[str, Any]:
        items = " ".join(f"l{i}={i};1;2" for i in range(labels))
        return {"host_name": "web", "service_description": "disk", "status_code": 0,
                "plugin_output": f"OK | {items}"}  # fmt: skip

    refused = await client.post(SERVICE_RESULT, json=result(MAX_LABELS + 1))
    assert refused.status_code == 400, refused.text
    assert f"at most {MAX_LABELS} are accepted" in refused.json()["full_error"]
    stored = await hub.store.get_check_object("web", "disk")
    assert stored is not None
    assert not stored.has_been_checked
    accepted = await client.post(SERVICE_RESULT, json=result(MAX_LABELS))
    assert accepted.status_code == 200, accepted.text
