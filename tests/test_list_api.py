"""The query API in process, on SQLite and PostgreSQL: statistics.list and the other list
endpoints, their parameters, their errors, their permissions and /api/v1/statistics."""

from __future__ import annotations

import json
import os
import socket
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hubs import CHEAP_HASHING, basic, client_for

from fleetwatch.app import Hub, build_hub
from fleetwatch.auth.admin import Actor
from fleetwatch.config import load_config

pytestmark = pytest.mark.anyio

TEST_ACTOR = Actor("test", "127.0.0.1")
LOGGED_OUT = "You must be logged in to do this."


def _doc(host: str, cpu_user: float, *, disks: int = 0, **extra: Any) -> dict[str, Any]:
    return {
        "hostname": host,
        "version": "13.0-U6",
        "uptime_seconds": 1000,
        "cpu": [{"user": cpu_user, "system": 0.0, "idle": 100.0 - cpu_user}] * 2,
        "memory": {"active-bytes": 2_000_000, "free-bytes": 6_000_000},
        "storage": {"total-bytes": 1000, "used-bytes": 250},
        "disk": [{"Name": f"ada{n}", "KBps read": n} for n in range(disks)],
        **extra,
    }


@pytest.fixture
async def hub(store_url: str, tmp_path: Path) -> AsyncIterator[Hub]:
    config = load_config(env={}, flags={("storage", "data_dir"): str(tmp_path),
                                        ("storage", "database"): store_url,
                                        ("query", "exact_total"): 5})  # fmt: skip
    the_hub = build_hub(config)
    the_hub.auth.hashing = the_hub.admin.hashing = CHEAP_HASHING
    await the_hub.prepare()
    yield the_hub
    await the_hub.store.close()


@pytest.fixture
async def client(hub: Hub) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(hub) as c:
        yield c


async def _login(client: httpx.AsyncClient, hub: Hub, name: str, *groups: str) -> dict[str, str]:
    await hub.store.add_user(name, CHEAP_HASHING.hash("pw"), list(groups))
    answer = (await client.post("/api/v1/login", json={"user": name, "password": "pw"})).json()
    return {"X-User-Id": answer["data"]["userId"], "X-Auth-Token": answer["data"]["authToken"]}


async def _fleet(client: httpx.AsyncClient, hub: Hub) -> dict[str, str]:
    """nas1 pushes 3 snapshots (cpu 10, 50, 95), nas2 pushes 2 (cpu 20, 99, with 3 disks)."""
    tokens = {}
    for name, figures in (("nas1", (10, 50, 95)), ("nas2", (20, 99))):
        _, tokens[name] = await hub.admin.add_system(TEST_ACTOR, name)
        for cpu in figures:
            body = _doc(name, cpu, disks=3 if name == "nas2" else 0, rack=f"r-{name}")
            answer = await client.put(
                "/api/external/submit_stats", json=body, auth=("", tokens[name])
            )
            assert answer.json() == {"result": "success"}
    return tokens


async def _list(
    client: httpx.AsyncClient, auth: dict[str, str], endpoint: str = "statistics", **params: Any
) -> dict[str, Any]:
    encoded = {k: v if isinstance(v, str | int) else json.dumps(v) for k, v in params.items()}
    response = await client.get(f"/api/v1/{endpoint}.list", params=encoded, headers=auth)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_statistics_records_have_the_reference_shape(
    client: httpx.AsyncClient, hub: Hub
) -> None:
    await _fleet(client, hub)
    auth = await _login(client, hub, "ann", "readonly")
    body = await _list(client, auth)
    assert body["success"] is True
    assert (body["count"], body["offset"]) == (5, 0)
    assert body["total"] == 5
    newest = body["statistics"][0]
    assert newest["system"] == "nas2"
    assert newest["hostname"] == "nas2"
    assert isinstance(newest["_id"], str)
    assert isinstance(newest["systemId"], str)
    assert newest["createdAt"].endswith("Z")
    assert newest["createdAt"] == newest["_updatedAt"]
    assert newest["source"] == "push"
    assert newest["cpu"][0] == {"user": 99, "system": 0.0, "idle": 1}  # as received
    assert newest["rack"] == "r-nas2"  # an extra field, kept
    assert newest["summary"]["cpu_percent"] == 99.0
    assert newest["summary"]["storage_percent"] == 25.0
    assert newest["summary"]["cpu_num"] == 2
    times = [r["createdAt"] for r in body["statistics"]]
    assert times == sorted(times, reverse=True)  # newest first by default


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"system": "nas1"}, [95, 50, 10]),
        ({"summary.cpu_percent": {"$gt": 90}}, [99, 95]),
        ({"cpu.0.user": {"$lte": 20}}, [20, 10]),
        ({"$or": [{"system": "nas2"}, {"summary.cpu_percent": 10}]}, [99, 20, 10]),
        ({"hostname": {"$regex": "^NAS2", "$options": "i"}}, [99, 20]),
        ({"disk": {"$size": 3}}, [99, 20]),
        ({"disk": {"$elemMatch": {"Name": "ada2", "KBps read": {"$gte": 2}}}}, [99, 20]),
        ({"rack": {"$in": ["r-nas1"]}, "summary.cpu_percent": {"$ne": 50}}, [95, 10]),
        ({"$nor": [{"system": "nas1"}]}, [99, 20]),
        ({"network": {"$exists": True}}, []),
        ({"createdAt": {"$gte": "2000-01-01T00:00:00Z"}}, [99, 20, 95, 50, 10]),
        ({"createdAt": {"$lt": {"$date": 0}}}, []),
        ({"system": {"$not": {"$regex": "1$"}}}, [99, 20]),
        ({"_id": {"$in": []}}, []),
        ({"system": "nas1'; DROP TABLE snapshots; --"}, []),
    ],
)
async def test_filters(
    client: httpx.AsyncClient, hub: Hub, query: dict[str, Any], expected: list[int]
) -> None:
    await _fleet(client, hub)
    auth = await _login(client, hub, "ann", "readonly")
    body = await _list(client, auth, query=query, sort={"system": -1, "createdAt": -1})
    assert [round(r["summary"]["cpu_percent"]) for r in body["statistics"]] == expected
    assert body["total"] == len(expected)


async def test_fields_sort_offset_count(client: httpx.AsyncClient, hub: Hub) -> None:
    await _fleet(client, hub)
    auth = await _login(client, hub, "ann", "readonly")
    body = await _list(client, auth, fields={"summary.cpu_percent": 1, "system": 1},
                       sort={"summary.cpu_percent": 1}, offset=1, count=2)  # fmt: skip
    assert [set(r) for r in body["statistics"]] == [{"_id", "summary", "system"}] * 2
    assert [r["summary"] for r in body["statistics"]] == [{"cpu_percent": 20.0},
                                                          {"cpu_percent": 50.0}]  # fmt: skip
    assert (body["count"], body["offset"], body["total"]) == (2, 1, 5)
    excluded = await _list(client, auth, fields={"cpu": 0, "memory": 0, "_id": 0}, count=1)
    record = excluded["statistics"][0]
    assert "cpu" not in record
    assert "_id" not in record
    assert "hostname" in record


async def test_count_is_clamped_and_zero_streams_everything(
    client: httpx.AsyncClient, hub: Hub
) -> None:
    await _fleet(client, hub)
    auth = await _login(client, hub, "ann", "readonly")
    assert (await _list(client, auth, count=1000))["count"] == 5  # at most max_count (100)
    streamed = await _list(client, auth, count=0, sort={"createdAt": 1})
    assert streamed["count"] == 5
    assert streamed["success"] is True
    cpus = [round(r["summary"]["cpu_percent"]) for r in streamed["statistics"]]
    assert cpus == [10, 50, 95, 20, 99]
    filtered = await _list(client, auth, count=0, query={"system": "nas1"}, offset=1)
    assert filtered["count"] == 2
    assert filtered["offset"] == 1


async def test_large_totals_are_estimated_beyond_the_exact_bound(
    client: httpx.AsyncClient, hub: Hub
) -> None:
    _, token = await hub.admin.add_system(TEST_ACTOR, "big")
    for n in range(12):
        await client.put("/api/external/submit_stats", json=_doc("big", n), auth=("", token))
    auth = await _login(client, hub, "ann", "readonly")
    body = await _list(client, auth, count=3)
    # exact_total is 5 in this hub: above it the total is an estimate, and says so.
    assert body["totalEstimated"] is True
    assert body["total"] >= 6
    # Plenty of matches: SQLite walks the createdAt index (a hint); same page as without it.
    hinted = await _list(client, auth, count=3, query={"summary.cpu_percent": {"$gte": 0}})
    plain = await _list(client, auth, count=3, query={"summary.cpu_percent": {"$gte": 0}},
                        sort={"createdAt": -1, "_id": -1})  # fmt: skip
    assert [r["_id"] for r in hinted["statistics"]] == [r["_id"] for r in plain["statistics"]]
    assert [round(r["summary"]["cpu_percent"]) for r in hinted["statistics"]] == [11, 10, 9]
    small = await _list(client, auth, query={"summary.cpu_percent": {"$lt": 3}})
    assert small["total"] == 3
    assert "totalEstimated" not in small


async def test_unencoded_query_strings_as_rocketchat_api_sends_them(
    client: httpx.AsyncClient, hub: Hub
) -> None:
    await _fleet(client, hub)
    auth = await _login(client, hub, "ann", "readonly")
    _, token = await hub.admin.add_system(TEST_ACTOR, "odd")
    await client.put("/api/external/submit_stats", json=_doc("a&b+c", 1), auth=("", token))
    raw = '/api/v1/statistics.list?query={"system": "odd", "hostname": "a&b+c"}&count=5'
    body = (await client.get(raw, headers=auth)).json()
    assert [r["hostname"] for r in body["statistics"]] == ["a&b+c"]
    # str() of a Python dict, as rocketchat-API writes a dict kwarg
    raw = "/api/v1/statistics.list?query={'summary.cpu_percent': {'$gt': 90}}&fields={'system': 1}"
    body = (await client.get(raw, headers=auth)).json()
    assert [r["system"] for r in body["statistics"]] == ["nas2", "nas1"]
    # a form-encoded one, where + is a space
    encoded = "/api/v1/statistics.list?query=%7B%22hostname%22%3A+%22nas1%22%7D&count=1"
    assert (await client.get(encoded, headers=auth)).json()["total"] == 3


async def test_sorts_and_streams_on_document_paths(client: httpx.AsyncClient, hub: Hub) -> None:
    """Paths inside the document (packed on PostgreSQL: the hub filters and sorts them) page,
    sort, stream and total as SQL does on SQLite."""
    tokens = await _fleet(client, hub)
    auth = await _login(client, hub, "ann", "readonly")

    def cpus(body: dict[str, Any]) -> list[int]:
        return [round(r["summary"]["cpu_percent"]) for r in body["statistics"]]

    by_user = await _list(client, auth, sort={"cpu.0.user": -1}, count=2, offset=1)
    assert (cpus(by_user), by_user["total"]) == ([95, 50], 5)
    # Missing sorts first ascending: nas1 has no disk; then the array sorts with its type.
    mixed = await _list(client, auth, sort={"disk.0.Name": 1, "summary.cpu_percent": -1})
    assert cpus(mixed) == [95, 50, 10, 99, 20]
    filtered = await _list(client, auth, query={"rack": "r-nas1", "cpu.0.user": {"$gt": 20}},
                           sort={"createdAt": 1})  # fmt: skip
    assert (cpus(filtered), filtered["total"]) == ([50, 95], 2)
    streamed = await _list(client, auth, count=0, query={"cpu.0.user": {"$gte": 20}},
                           sort={"cpu.0.user": 1}, offset=1)  # fmt: skip
    assert (cpus(streamed), streamed["count"], streamed["total"]) == ([50, 95, 99], 3, 4)
    for sort in ({"cpu.0.user": 1}, {"createdAt": 1}):  # sorted by the hub, by SQL
        past = await _list(client, auth, count=0, query={"cpu.0.user": {"$gte": 20}},
                           sort=sort, offset=10)  # fmt: skip
        assert (past["count"], past["total"]) == (0, 4)
    both = await _list(client, auth, count=0, query={"disk": {"$size": 0}}, sort={"_id": -1})
    assert cpus(both) == [95, 50, 10]
    # exact_total is 5 in this hub: more matches than that are estimated, as SQL's are.
    for n in range(4):
        body = _doc("nas1", n, rack="r-nas1")
        await client.put("/api/external/submit_stats", json=body, auth=("", tokens["nas1"]))
    many = await _list(client, auth, query={"rack": "r-nas1"}, count=2)
    assert many["totalEstimated"] is True
    assert many["total"] >= 6
    assert cpus(many) == [3, 2]


async def test_a_hub_sorted_stream_orders_a_bounded_number_of_matches(
    client: httpx.AsyncClient, hub: Hub, monkeypatch: pytest.MonkeyPatch
) -> None:
    """On PostgreSQL the hub holds a key per match to sort a stream by a packed path: past
    ``SORT_MOST`` matches it says so (400) before the stream starts, instead of holding them."""
    await _fleet(client, hub)
    auth = await _login(client, hub, "ann", "readonly")
    monkeypatch.setattr("fleetwatch.api.lists.SORT_MOST", 3)
    params: dict[str, str | int] = {"count": 0, "sort": json.dumps({"cpu.0.user": 1})}
    response = await client.get("/api/v1/statistics.list", params=params, headers=auth)
    if hub.store.dialect == "sqlite":  # SQL sorts it there: nothing held in the hub
        assert response.status_code == 200, response.text
        return
    assert response.status_code == 400, response.text
    assert "at most 3 matches" in response.json()["error"]
    narrow = {**params, "query": json.dumps({"cpu.0.user": {"$gte": 50}})}
    fits = await client.get("/api/v1/statistics.list", params=narrow, headers=auth)
    assert fits.status_code == 200, fits.text


@pytest.mark.parametrize(
    ("params", "error_type", "detail"),
    [
        ("query={bad", "error-invalid-query", "Invalid query parameter provided: "),
        ('query={"a": {"$where": "1"}}', "error-invalid-query", "$where"),
        ('query={"a": {"$gt": [1]}}', "error-invalid-query", "Invalid query parameter"),
        ('sort={"createdAt": 2}', "error-invalid-sort", "Invalid sort parameter provided: "),
        ("sort=[1]", "error-invalid-sort", "Invalid sort parameter"),
        ('fields={"cpu": 1, "memory": 0}', "error-invalid-fields", "cannot mix"),
        ('fields={"cpu": "yes"}', "error-invalid-fields", "Invalid fields parameter provided: "),
        ("offset=-1", "error-invalid-params", "offset"),
        ("count=ten", "error-invalid-params", "count"),
        ("limit=5", "error-invalid-params", "unknown parameter 'limit'"),
        ("count=1&count=2", "error-invalid-params", "more than once"),
        ('query={"__proto__": {"polluted": 1}}', "error-invalid-query", "__proto__"),
        ("query=" + "[" * 1000 + "]" * 1000, "error-invalid-query", "Invalid query parameter"),
        ('query={"a": {"$in": [' + ",".join(["1"] * 5000) + "]}}", "error-invalid-query", "3000"),
    ],
    ids=lambda value: str(value)[:40],
)
async def test_bad_parameters_are_400_in_rocketchat_shape(
    client: httpx.AsyncClient, hub: Hub, params: str, error_type: str, detail: str
) -> None:
    auth = await _login(client, hub, "ann", "readonly")
    response = await client.get(f"/api/v1/statistics.list?{params}", headers=auth)
    assert response.status_code == 400
    body = response.json()
    assert body["success"] is False
    assert body["errorType"] == error_type
    assert body["error"].endswith(f"[{error_type}]")
    assert detail in body["error"]


async def test_credentials_and_permissions(client: httpx.AsyncClient, hub: Hub) -> None:
    tokens = await _fleet(client, hub)
    anonymous = await client.get("/api/v1/statistics.list")
    assert anonymous.status_code == 401
    assert anonymous.json() == {"success": False, "status": "error", "message": LOGGED_OUT,
                                "error": LOGGED_OUT}  # fmt: skip
    updater = await _login(client, hub, "bot", "status_update")  # no view-statistics
    refused = await client.get("/api/v1/statistics.list", headers=updater)
    assert refused.status_code == 403
    assert refused.json()["error"] == "error-not-allowed"
    assert refused.json()["permission"] == "view-statistics"
    # a system token submits; it reads nothing
    system = await client.get("/api/v1/statistics.list", auth=("", tokens["nas1"]))
    assert system.status_code == 403
    # Basic user:password works as well as X-User-Id/X-Auth-Token
    await hub.store.add_user("carl", CHEAP_HASHING.hash("pw"), ["readonly"])
    assert (await client.get("/api/v1/statistics.list", headers=basic("carl", "pw"))).json()[
        "total"
    ] == 5


async def test_the_other_collections(client: httpx.AsyncClient, hub: Hub) -> None:
    await _fleet(client, hub)
    admin = await _login(client, hub, "root", "admin")
    checker = basic("root", "pw")
    await client.post("/api/config/host", json={"host_name": "web1"}, headers=checker)
    for service in ("backup", "disk"):
        body = {"host_name": "web1", "service_description": service}
        assert (await client.post("/api/config/service", json=body, headers=checker)).is_success
    for code, service in ((2, "backup"), (0, "disk"), (1, "disk")):
        result = {"host_name": "web1", "service_description": service, "status_code": code,
                  "plugin_output": f"out {code}|t=1s"}  # fmt: skip
        done = await client.post("/api/command/PROCESS_SERVICE_CHECK_RESULT", json=result,
                                 headers=checker)  # fmt: skip
        assert done.status_code == 200, done.text

    assert hub.last_seen is not None
    await hub.last_seen.flush()  # written a moment after each snapshot; now, for the test
    systems = await _list(client, admin, "systems", query={"name": {"$regex": "^nas"}})
    assert [s["name"] for s in systems["systems"]] == ["nas1", "nas2"]
    assert systems["systems"][0]["lastSeen"].endswith("Z")
    assert [t["name"] for t in systems["systems"][0]["tokens"]] == ["default"]  # manage-systems

    services = await _list(client, admin, "services", query={"state": {"$gt": 0}})
    assert [(s["service_description"], s["state"]) for s in services["services"]] == [
        ("backup", 2), ("disk", 1)]  # fmt: skip
    assert services["services"][0]["perf_data"] == "t=1s"
    hosts = await _list(client, admin, "hosts", query={"host_name": "web1"})
    assert hosts["total"] == 1
    assert hosts["hosts"][0]["acknowledged"] is False

    results = await _list(client, admin, "checkresults", sort={"checkedAt": 1, "_id": 1},
                          query={"service_description": "disk"})  # fmt: skip
    assert [r["state"] for r in results["checkresults"]] == [0, 1]
    assert results["checkresults"][0]["checkedAt"].endswith("Z")

    events = await _list(client, admin, "events", query={"data.service": "backup"})
    assert events["total"] >= 1
    assert all(e["system"] for e in events["events"])

    readonly = await _login(client, hub, "ro", "readonly")
    plain = await _list(client, readonly, "systems")
    assert "tokens" not in plain["systems"][0]  # token names are for those who manage systems
    updater = await _login(client, hub, "bot", "status_update")
    assert (await client.get("/api/v1/events.list", headers=updater)).status_code == 403
    assert (await client.get("/api/v1/services.list", headers=updater)).status_code == 200


async def test_hub_statistics(client: httpx.AsyncClient, hub: Hub) -> None:
    auth = await _login(client, hub, "ann", "readonly")
    first = (await client.get("/api/v1/statistics", headers=auth)).json()
    assert first["success"] is True
    assert first["totalSnapshots"] == 0
    await _fleet(client, hub)
    cached = (await client.get("/api/v1/statistics", headers=auth)).json()
    assert cached["totalSnapshots"] == 0  # kept for statistics_max_age
    fresh = (await client.get("/api/v1/statistics?refresh=true", headers=auth)).json()
    assert fresh["totalSnapshots"] == 5
    assert fresh["totalSystems"] == 3  # nas1, nas2 and the hub's own machine
    assert fresh["submissionsPerMinute"] == 5
    assert fresh["servicesByState"] == {
        "ok": 0,
        "warning": 0,
        "critical": 0,
        "unknown": 0,
        "pending": 0,
    }
    assert fresh["version"]
    assert fresh["uptime"] >= 0


async def test_openapi_describes_the_list_parameters(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    operation = paths["/api/v1/statistics.list"]["get"]
    names = {p["name"] for p in operation["parameters"]}
    assert names == {"query", "fields", "sort", "offset", "count"}
    schema = operation["responses"]["200"]["content"]["application/json"]["schema"]
    record = schema["properties"]["statistics"]["items"]["properties"]
    assert record["createdAt"] == {"type": ["string", "null"], "format": "date-time"}
    assert record["_id"] == {"type": ["string", "null"]}
    assert record["summary"] == {}  # any JSON


async def test_the_hubs_own_snapshots_are_records_too(client: httpx.AsyncClient, hub: Hub) -> None:
    for _ in range(2):  # two collections, so rates and CPU percentages are real
        hub.live.publish(hub.live.gather())
    assert hub.recorder is not None
    assert await hub.recorder.record() is not None
    auth = await _login(client, hub, "ann", "readonly")
    body = await _list(client, auth, query={"source": "local"})
    assert body["total"] == 1
    record = body["statistics"][0]
    assert record["hostname"] == socket.gethostname()
    assert record["summary"]["cpu_num"] == os.cpu_count()
    assert 0 <= record["summary"]["mem_percent"] <= 100
    assert {"cpu", "mem"} <= set(record)  # its Glances-shaped stats, as stored
