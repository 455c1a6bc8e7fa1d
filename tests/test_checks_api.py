"""OP5 passive checks through the API, in process, on SQLite and PostgreSQL: commands, their
errors, SOFT/HARD, perfdata, acknowledgements, downtimes, freshness and the read side."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hubs import CHEAP_HASHING, add_user, client_for

from fleetwatch.app import Hub, build_hub
from fleetwatch.auth.authenticator import Principal
from fleetwatch.config import load_config
from fleetwatch.engine.checks import EVENTS_SYSTEM

pytestmark = pytest.mark.anyio

CURL_BODY = {
    "host_name": "example_host_1",
    "service_description": "Example service",
    "status_code": "2",
    "plugin_output": "Example issue has occurred",
}
SERVICE = "/api/command/PROCESS_SERVICE_CHECK_RESULT"
HOST = "/api/command/PROCESS_HOST_CHECK_RESULT"


def success(command: str) -> bytes:
    return b'{"result":"Successfully submitted ' + command.encode() + b'"}'


@pytest.fixture
async def hub(store_url: str, tmp_path: Path) -> AsyncIterator[Hub]:
    config = load_config(env={}, flags={("storage", "data_dir"): str(tmp_path),
                                        ("storage", "database"): store_url})  # fmt: skip
    the_hub = build_hub(config)
    the_hub.auth.hashing = the_hub.admin.hashing = CHEAP_HASHING
    await the_hub.prepare()
    await the_hub.store.add_check_object("host", "example_host_1")
    await the_hub.store.add_check_object("service", "example_host_1", "Example service")
    yield the_hub
    await the_hub.store.close()


@pytest.fixture
async def client(hub: Hub) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(hub) as the_client:
        yield the_client


async def status(client: httpx.AsyncClient, auth: dict[str, str], svc: str) -> dict[str, Any]:
    path = f"/api/status/service/{svc}" if ";" in svc else f"/api/status/host/{svc}"
    response = await client.get(path, headers=auth)
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def events(hub: Hub) -> list[dict[str, Any]]:
    system = await hub.store.get_system(EVENTS_SYSTEM)
    assert system is not None
    records = await hub.store.list_events(system_id=system.id)
    return [{"type": r.type, **r.data} for r in reversed(records)]


async def test_the_reference_curl_command(hub: Hub, client: httpx.AsyncClient) -> None:
    auth = await add_user(hub, "status_update", "mysecret", "status_update")
    subscription = hub.bus.subscribe()
    response = await client.post(SERVICE, json=CURL_BODY, headers=auth)
    assert response.status_code == 200
    assert response.content == success("PROCESS_SERVICE_CHECK_RESULT")
    got = await status(client, auth, "example_host_1;Example service")
    assert got["state"] == 2
    assert got["state_type"] == 1
    assert got["plugin_output"] == "Example issue has occurred"
    assert got["host"] == {"name": "example_host_1"}
    assert got["description"] == "Example service"
    assert got["has_been_checked"] == 1
    assert got["last_check"] > 0
    published = subscription.queue.get_nowait()
    assert published["event"] == "check_hard_state"
    assert published["new_state"] == "CRITICAL"
    [event] = await events(hub)
    assert event["type"] == "CHECK_HARD_STATE"
    assert (event["old_state"], event["new_state"]) == ("OK", "CRITICAL")
    assert event["host"] == "example_host_1"
    assert event["service"] == "Example service"
    assert event["output"] == "Example issue has occurred"
    assert event["time"] > 0


async def test_form_bodies_names_and_codes(hub: Hub, client: httpx.AsyncClient) -> None:
    auth = await add_user(hub, "admin", "pw", "admin")
    form = {**CURL_BODY, "status_code": "WARNING"}
    response = await client.post(SERVICE, data=form, headers=auth)
    assert response.content == success("PROCESS_SERVICE_CHECK_RESULT")
    assert (await status(client, auth, "example_host_1;Example service"))["state"] == 1
    # Naemon: a service code outside 0-3 is UNKNOWN.
    response = await client.post(SERVICE, json={**CURL_BODY, "status_code": 7}, headers=auth)
    assert response.status_code == 200
    assert (await status(client, auth, "example_host_1;Example service"))["state"] == 3
    # An empty output is fine; text after | is perfdata, later lines long output.
    body = {**CURL_BODY, "status_code": 0, "plugin_output": ""}
    assert (await client.post(SERVICE, json=body, headers=auth)).status_code == 200
    body["plugin_output"] = "OK - 3 files | files=3;5;10;0 'age s'=12.5s\nfile a\nfile b"
    assert (await client.post(SERVICE, json=body, headers=auth)).status_code == 200
    got = await status(client, auth, "example_host_1;Example service")
    assert got["plugin_output"] == "OK - 3 files"
    assert got["long_plugin_output"] == "file a\nfile b"
    assert got["perf_data"] == "files=3;5;10;0 'age s'=12.5s"
    obj = await hub.store.get_check_object("example_host_1", "Example service")
    assert obj is not None
    assert [v for _, v in await hub.store.perf_series(obj.id, "age s")] == [12.5]
    host = {"host_name": "example_host_1", "status_code": "DOWN", "plugin_output": "gone"}
    assert (await client.post(HOST, json=host, headers=auth)).content == success(
        "PROCESS_HOST_CHECK_RESULT"
    )
    got = await status(client, auth, "example_host_1")
    assert got["state"] == 1
    assert got["state_type"] == 1
    assert got["name"] == "example_host_1"


ERROR_CASES: list[tuple[str, dict[str, Any], int, str]] = [
    (SERVICE, {**CURL_BODY, "host_name": "nope"}, 400, "host 'nope'"),
    (SERVICE, {**CURL_BODY, "service_description": "nope"}, 400, "service 'nope'"),
    (SERVICE, {**CURL_BODY, "status_code": "bad"}, 400, "status_code"),
    (SERVICE, {**CURL_BODY, "status_code": True}, 400, "status_code"),
    (SERVICE, {k: v for k, v in CURL_BODY.items() if k != "status_code"}, 400, "status_code"),
    (SERVICE, {**CURL_BODY, "host_name": ""}, 400, "host_name"),
    (SERVICE, {**CURL_BODY, "plugin_output": 5}, 400, "plugin_output"),
    (SERVICE, {**CURL_BODY, "plugin_output": "x | =1"}, 400, "perfdata"),
    (SERVICE, {**CURL_BODY, "ttl": "soon"}, 400, "ttl"),
    (HOST, {"host_name": "example_host_1", "status_code": 3}, 400, "host status_code"),
    ("/api/command/NO_SUCH_THING", CURL_BODY, 404, "NO_SUCH_THING"),
    ("/api/command/ACKNOWLEDGE_SVC_PROBLEM", CURL_BODY, 400, "service is OK"),
    ("/api/command/DEL_SVC_DOWNTIME", {"downtime_id": 99}, 400, "downtime with id 99"),
    ("/api/command/SCHEDULE_SVC_DOWNTIME", CURL_BODY, 400, "start_time"),
]


async def test_errors_in_the_op5_shape(hub: Hub, client: httpx.AsyncClient) -> None:
    auth = await add_user(hub, "admin", "pw", "admin")
    for path, body, status_code, says in ERROR_CASES:
        response = await client.post(path, json=body, headers=auth)
        assert response.status_code == status_code, (body, response.text)
        assert set(response.json()) == {"error", "full_error"}
        assert says in response.json()["full_error"], (body, response.text)


async def test_bad_json_and_credentials(hub: Hub, client: httpx.AsyncClient) -> None:
    auth = await add_user(hub, "admin", "pw", "admin")
    response = await client.post(SERVICE, content=b"{", headers=auth)
    assert response.status_code == 400
    assert "JSON" in response.json()["full_error"]
    response = await client.post(SERVICE, json=CURL_BODY)
    assert response.status_code == 401
    assert response.json()["error"] == "Unauthorized"
    bad = {"authorization": "Basic YWRtaW46d3Jvbmc="}  # admin:wrong
    assert (await client.post(SERVICE, json=CURL_BODY, headers=bad)).status_code == 401


async def test_least_privilege_groups(hub: Hub, client: httpx.AsyncClient) -> None:
    readonly = await add_user(hub, "viewer", "pw", "readonly")
    response = await client.post(SERVICE, json=CURL_BODY, headers=readonly)
    assert response.status_code == 403
    assert response.json() == {
        "error": "Forbidden",
        "full_error": "Missing permission: api-command",
    }
    await status(client, readonly, "example_host_1;Example service")  # readonly may look
    updater = await add_user(hub, "status_update", "pw", "status_update")
    assert (await client.post(SERVICE, json=CURL_BODY, headers=updater)).status_code == 200
    host = {"host_name": "example_host_1", "status_code": 1}
    response = await client.post(HOST, json=host, headers=updater)
    assert response.status_code == 403
    assert "host-edit-all" in response.json()["full_error"]
    response = await client.post("/api/v1/users.create", json={"username": "x"}, headers=updater)
    assert response.status_code == 403  # a status_update user cannot manage users


async def test_soft_then_hard(hub: Hub, client: httpx.AsyncClient) -> None:
    auth = await add_user(hub, "admin", "pw", "admin")
    await hub.store.add_check_object("service", "example_host_1", "Flaky", max_check_attempts=3)
    body: dict[str, Any] = {**CURL_BODY, "service_description": "Flaky"}
    seen = []
    for code in (2, 2, 2, 2, 0):
        body["status_code"] = code
        assert (await client.post(SERVICE, json=body, headers=auth)).status_code == 200
        got = await status(client, auth, "example_host_1;Flaky")
        seen.append((got["state"], got["state_type"], got["current_attempt"]))
    assert seen == [(2, 0, 1), (2, 0, 2), (2, 1, 3), (2, 1, 3), (0, 1, 1)]
    kinds = [(e["type"], e["new_state"]) for e in await events(hub) if e["service"] == "Flaky"]
    assert kinds == [("CHECK_HARD_STATE", "CRITICAL"), ("CHECK_HARD_STATE", "OK")]
    obj = await hub.store.get_check_object("example_host_1", "Flaky")
    assert obj is not None
    assert len(await hub.store.check_results(obj.id)) == 5


async def test_acknowledgement_life_cycle(hub: Hub, client: httpx.AsyncClient) -> None:
    auth = await add_user(hub, "ann", "pw", "admin")
    svc = "example_host_1;Example service"
    ack = {"host_name": "example_host_1", "service_description": "Example service",
           "sticky": 0, "notify": "false", "persistent": False, "comment": "on it"}  # fmt: skip
    await client.post(SERVICE, json=CURL_BODY, headers=auth)
    response = await client.post("/api/command/ACKNOWLEDGE_SVC_PROBLEM", json=ack, headers=auth)
    assert response.content == success("ACKNOWLEDGE_SVC_PROBLEM")
    assert (await status(client, auth, svc))["acknowledged"] == 1
    # A non-sticky acknowledgement ends with any change of state.
    await client.post(SERVICE, json={**CURL_BODY, "status_code": 1}, headers=auth)
    assert (await status(client, auth, svc))["acknowledged"] == 0
    # A sticky one lasts until OK...
    await client.post("/api/command/ACKNOWLEDGE_SVC_PROBLEM", json={**ack, "sticky": True},
                      headers=auth)  # fmt: skip
    await client.post(SERVICE, json=CURL_BODY, headers=auth)
    assert (await status(client, auth, svc))["acknowledged"] == 1
    remove = {"host_name": "example_host_1", "service_description": "Example service"}
    response = await client.post("/api/command/REMOVE_SVC_ACKNOWLEDGEMENT", json=remove,
                                 headers=auth)  # fmt: skip
    assert response.content == success("REMOVE_SVC_ACKNOWLEDGEMENT")
    assert (await status(client, auth, svc))["acknowledged"] == 0
    kinds = [e["type"] for e in await events(hub)]
    assert kinds.count("ACKNOWLEDGEMENT") == 2
    assert "ACKNOWLEDGEMENT_REMOVED" in kinds
    first = next(e for e in await events(hub) if e["type"] == "ACKNOWLEDGEMENT")
    assert first["author"] == "ann"
    assert first["comment"] == "on it"
    # Hosts too.
    await client.post(HOST, json={"host_name": "example_host_1", "status_code": 1}, headers=auth)
    host_ack = {"host_name": "example_host_1", "comment": "known"}
    response = await client.post("/api/command/ACKNOWLEDGE_HOST_PROBLEM", json=host_ack,
                                 headers=auth)  # fmt: skip
    assert response.status_code == 200
    assert (await status(client, auth, "example_host_1"))["acknowledged"] == 1


async def test_downtime_life_cycle(hub: Hub, client: httpx.AsyncClient) -> None:
    auth = await add_user(hub, "ann", "pw", "admin")
    svc = "example_host_1;Example service"
    now = time.time()
    body = {"host_name": "example_host_1", "service_description": "Example service",
            "start_time": int(now) - 1, "end_time": int(now) + 3600, "fixed": 1,
            "duration": 0, "comment": "patching"}  # fmt: skip
    response = await client.post("/api/command/SCHEDULE_SVC_DOWNTIME", json=body, headers=auth)
    assert response.content == success("SCHEDULE_SVC_DOWNTIME")
    assert (await status(client, auth, svc))["scheduled_downtime_depth"] == 1
    obj = await hub.store.get_check_object("example_host_1", "Example service")
    assert obj is not None
    [downtime] = await hub.store.list_downtimes(obj.id)
    response = await client.post("/api/command/DEL_SVC_DOWNTIME",
                                 json={"downtime_id": downtime.id}, headers=auth)  # fmt: skip
    assert response.content == success("DEL_SVC_DOWNTIME")
    assert (await status(client, auth, svc))["scheduled_downtime_depth"] == 0
    # A future downtime starts and ends on the scheduler's clock.
    assert hub.freshness is not None
    body.update(start_time=now + 100, end_time=now + 200)
    await client.post("/api/command/SCHEDULE_SVC_DOWNTIME", json=body, headers=auth)
    assert (await status(client, auth, svc))["scheduled_downtime_depth"] == 0
    hub.freshness.clock = lambda: now + 150
    await hub.freshness.run_due()
    assert (await status(client, auth, svc))["scheduled_downtime_depth"] == 1
    hub.freshness.clock = lambda: now + 250
    await hub.freshness.run_due()
    assert (await status(client, auth, svc))["scheduled_downtime_depth"] == 0
    kinds = [e["type"] for e in await events(hub) if e["type"].startswith("DOWNTIME")]
    assert kinds == ["DOWNTIME_START", "DOWNTIME_END", "DOWNTIME_START", "DOWNTIME_END"]
    response = await client.post("/api/command/SCHEDULE_HOST_DOWNTIME", headers=auth, json={
        "host_name": "example_host_1", "start_time": now, "end_time": now + 60})  # fmt: skip
    assert response.status_code == 200
    assert (await status(client, auth, "example_host_1"))["scheduled_downtime_depth"] == 1


async def test_freshness_marks_a_silent_service_once(hub: Hub, client: httpx.AsyncClient) -> None:
    auth = await add_user(hub, "admin", "pw", "admin")
    svc = await hub.store.add_check_object("service", "example_host_1", "Backup",
                                           freshness_threshold=3600)  # fmt: skip
    assert hub.freshness is not None
    body = {**CURL_BODY, "service_description": "Backup", "status_code": 0, "plugin_output": "ok"}
    assert (await client.post(SERVICE, json=body, headers=auth)).status_code == 200
    got = await status(client, auth, "example_host_1;Backup")
    last = float(got["last_check"])
    hub.freshness.clock = lambda: last + 3599
    await hub.freshness.run_due()
    assert (await status(client, auth, "example_host_1;Backup"))["state"] == 0
    obj = await hub.store.get_check_object("example_host_1", "Backup")
    assert obj is not None
    assert obj.last_check is not None
    assert obj.fresh_due_at is not None
    silent_until = obj.last_check + 3605
    hub.freshness.clock = lambda: silent_until
    await hub.freshness.run_due()
    await hub.freshness.run_due()  # once per silence
    got = await status(client, auth, "example_host_1;Backup")
    assert got["state"] == 2
    assert got["is_stale"] == 1
    assert got["plugin_output"] == "CRITICAL: no result for 3605 s (threshold 3600 s)"
    stale = [e for e in await events(hub) if e["type"] == "CHECK_STALE"]
    assert len(stale) == 1
    assert stale[0]["service"] == "Backup"
    assert [r.source for r in await hub.store.check_results(svc.id)] == ["stale", "passive"]
    # The next result ends the silence and sets a new deadline; a ttl overrides the threshold.
    assert (await client.post(SERVICE, json={**body, "ttl": 5}, headers=auth)).status_code == 200
    obj = await hub.store.get_check_object("example_host_1", "Backup")
    assert obj is not None
    assert not obj.is_stale
    assert obj.last_check is not None
    assert obj.fresh_due_at == pytest.approx(obj.last_check + 5)


async def test_auto_create(hub: Hub, client: httpx.AsyncClient) -> None:
    auth = await add_user(hub, "admin", "pw", "admin")
    body = {**CURL_BODY, "host_name": "new-host"}
    assert (await client.post(SERVICE, json=body, headers=auth)).status_code == 400
    assert hub.checks is not None
    hub.checks.auto_create = True
    assert (await client.post(SERVICE, json=body, headers=auth)).status_code == 200
    assert (await status(client, auth, "new-host;Example service"))["state"] == 2
    await status(client, auth, "new-host")


async def test_filter_endpoints(hub: Hub, client: httpx.AsyncClient) -> None:
    auth = await add_user(hub, "admin", "pw", "admin")
    for host in ("web1", "web2", "db1"):
        await hub.store.add_check_object("host", host)
        for service in ("Disk", "Backup"):
            await hub.store.add_check_object("service", host, service)
    for host, service, code in (("web1", "Disk", 2), ("db1", "Backup", 1)):
        body = {"host_name": host, "service_description": service, "status_code": code}
        assert (await client.post(SERVICE, json=body, headers=auth)).status_code == 200

    async def query(q: str, **params: str) -> Any:
        response = await client.get("/api/filter/query", params={"query": q, **params},
                                    headers=auth)  # fmt: skip
        assert response.status_code == 200, response.text
        return response.json()

    async def count(q: str) -> int:
        response = await client.get("/api/filter/count", params={"query": q}, headers=auth)
        assert response.status_code == 200, response.text
        value: int = response.json()["count"]
        return value

    assert await count("[hosts] all") == 4
    assert await count("[services] all") == 7
    assert await count("[services] state != 0") == 2
    assert await count('[services] host.name = "web1"') == 2
    assert await count('[hosts] name ~~ "^WEB"') == 2
    assert await count('[services] state != 0 and host.name = "web1"') == 1
    assert await count('[services] host.name = "web1" or host.name = "db1"') == 4
    assert await count('[services] not (state = 0) or description = "Disk"') == 4
    got = await query("[services] state != 0", columns="host.name,description,state",
                      sort="state desc")  # fmt: skip
    assert got == [
        {"host": {"name": "web1"}, "description": "Disk", "state": 2},
        {"host": {"name": "db1"}, "description": "Backup", "state": 1},
    ]
    got = await query("[hosts] all", columns="name", sort="name", limit="2", offset="1")
    assert got == [{"name": "example_host_1"}, {"name": "web1"}]
    for bad, says in (
        ("[things] all", "[things]"),
        ("[services] colour = 1", "colour"),
        ("[services] state !! 0", "!!"),
        ("[services] state =", "value"),
        ("[services] state = 0 and", "column"),
        ("services all", "brackets"),
    ):
        response = await client.get("/api/filter/query", params={"query": bad}, headers=auth)
        assert response.status_code == 400, bad
        assert says in response.json()["full_error"], (bad, response.json())
    readonly = await add_user(hub, "viewer", "pw", "readonly")
    response = await client.get("/api/filter/count", params={"query": "[hosts] all"},
                                headers=readonly)  # fmt: skip
    assert response.status_code == 200
    nobody = await add_user(hub, "nobody", "pw")
    response = await client.get("/api/filter/count", params={"query": "[hosts] all"},
                                headers=nobody)  # fmt: skip
    assert response.status_code == 403
    assert "host-view-all" in response.json()["full_error"]
    assert (await client.get("/api/status/host/nope", headers=auth)).status_code == 404


async def test_a_flexible_downtime_waits_for_a_problem(hub: Hub, client: httpx.AsyncClient) -> None:
    auth = await add_user(hub, "ann", "pw", "admin")
    svc = "example_host_1;Example service"
    now = time.time()
    body = {"host_name": "example_host_1", "service_description": "Example service",
            "start_time": now - 1, "end_time": now + 3600, "fixed": False,
            "duration": 60}  # fmt: skip
    response = await client.post("/api/command/SCHEDULE_SVC_DOWNTIME", json=body, headers=auth)
    assert response.status_code == 200, response.text
    assert (await status(client, auth, svc))["scheduled_downtime_depth"] == 0  # still OK
    response = await client.post("/api/command/SCHEDULE_SVC_DOWNTIME", headers=auth,
                                 json={**body, "duration": 0})  # fmt: skip
    assert response.status_code == 400
    assert "duration" in response.json()["full_error"]
    assert (await client.post(SERVICE, json=CURL_BODY, headers=auth)).status_code == 200
    got = await status(client, auth, svc)
    assert got["scheduled_downtime_depth"] == 1  # the problem triggered it
    assert hub.freshness is not None
    started = time.time()
    hub.freshness.clock = lambda: started + 61  # it runs for its duration from the trigger
    await hub.freshness.run_due()
    assert (await status(client, auth, svc))["scheduled_downtime_depth"] == 0
    kinds = [e["type"] for e in await events(hub) if e["type"].startswith("DOWNTIME")]
    assert kinds == ["DOWNTIME_START", "DOWNTIME_END"]
    # One never triggered expires at the end of its window, without events.
    await client.post(SERVICE, json={**CURL_BODY, "status_code": 0}, headers=auth)
    await client.post("/api/command/SCHEDULE_SVC_DOWNTIME", json={**body, "end_time": now + 100},
                      headers=auth)  # fmt: skip
    hub.freshness.clock = lambda: now + 101
    await hub.freshness.run_due()
    obj = await hub.store.get_check_object("example_host_1", "Example service")
    assert obj is not None
    assert await hub.store.list_downtimes(obj.id) == []
    kinds = [e["type"] for e in await events(hub) if e["type"].startswith("DOWNTIME")]
    assert kinds == ["DOWNTIME_START", "DOWNTIME_END"]


async def test_hosts_and_services_over_the_config_api(hub: Hub, client: httpx.AsyncClient) -> None:
    auth = await add_user(hub, "admin", "pw", "admin")
    response = await client.post("/api/config/service", headers=auth, json={
        "host_name": "nas", "service_description": "Backup", "freshness_threshold": "86400",
        "max_check_attempts": 2, "stale_state": "WARNING", "notes": "nightly"})  # fmt: skip
    assert response.status_code == 201, response.text
    got = response.json()
    assert got["host"] == {"name": "nas"}
    assert got["check_freshness"] == 1
    assert got["freshness_threshold"] == 86400
    assert (got["max_check_attempts"], got["stale_state"], got["notes"]) == (2, 1, "nightly")
    response = await client.post("/api/config/host", json={"host_name": "nas"}, headers=auth)
    assert response.status_code == 409
    assert set(response.json()) == {"error", "full_error"}
    response = await client.post("/api/config/host", json={"host_name": "web9"}, headers=auth)
    assert response.status_code == 201
    hosts = (await client.get("/api/config/host", headers=auth)).json()
    assert [h["name"] for h in hosts] == ["example_host_1", "nas", "web9"]
    response = await client.post("/api/config/service", headers=auth,
                                 json={"host_name": "nas", "max_check_attempts": 0})  # fmt: skip
    assert response.status_code == 400
    assert "service_description" in response.json()["full_error"]
    body = {"host_name": "nas", "service_description": "Backup", "status_code": 0}
    assert (await client.post(SERVICE, json=body, headers=auth)).status_code == 200
    response = await client.delete("/api/config/service/nas;Backup", headers=auth)
    assert response.status_code == 200
    assert (await client.post(SERVICE, json=body, headers=auth)).status_code == 400
    assert (await client.delete("/api/config/service/nas;Backup", headers=auth)).status_code == 404
    assert (await client.delete("/api/config/host/web9", headers=auth)).status_code == 200
    services = (await client.get("/api/config/service", headers=auth)).json()
    assert [(s["host"]["name"], s["description"]) for s in services] == [
        ("example_host_1", "Example service")
    ]


async def test_one_client_applies_its_long_results_one_at_a_time(
    hub: Hub, client: httpx.AsyncClient
) -> None:
    # A result whose output is long (its perfdata parsed in a thread) waits for the same
    # client's earlier long one; 503 with Retry-After when that takes too long. Short results
    # and other clients' long ones do not wait for it.
    assert hub.commands is not None
    hub.commands.large_result_wait = 0.05
    mine = await add_user(hub, "status_update", "mysecret", "status_update")
    other = await add_user(hub, "other", "secret", "status_update")
    principal = Principal("user", "status_update")  # the slots are per kind and name
    long_output = "OK | " + " ".join(f"l{i}=1;2;3" for i in range(800))
    long_body = {**CURL_BODY, "plugin_output": long_output}
    async with hub.commands.large_results.hold(principal, 1.0):
        refused = await client.post(SERVICE, json=long_body, headers=mine)
        assert refused.status_code == 503, refused.text
        assert refused.headers["retry-after"] == "1"
        assert "long results" in refused.json()["full_error"]
        short = await client.post(SERVICE, json=CURL_BODY, headers=mine)
        assert short.status_code == 200, short.text
        theirs = await client.post(SERVICE, json=long_body, headers=other)
        assert theirs.status_code == 200, theirs.text
    assert (await client.post(SERVICE, json=long_body, headers=mine)).status_code == 200
    assert hub.commands.large_results.clients() == 0
