"""PUT/POST /api/external/submit_stats: TrueCommand's hook, in process and over real HTTPS."""

from __future__ import annotations

import asyncio
import subprocess
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
import trustme
from hubs import client_for, make_hub, started
from serving import ServeProcess
from test_ingest_submit_stats import SCRIPT_DATA

from fleetwatch.app import Hub, build_hub
from fleetwatch.auth.admin import Actor, Admin
from fleetwatch.auth.secrets import PasswordHashing
from fleetwatch.config import load_config
from fleetwatch.engine.bus import EventBus
from fleetwatch.store import open_store

REFERENCE_SCRIPT = r"""#!/bin/sh

# Access info for TrueCommand (system and auth token)
TC_SYSTEM="CHANGEME"
TC_TOKEN="CHANGEME"

# CHANGEME : Gather/Assemble the data about the system
# This data object is a hard-coded string for demonstration purposes only
DATA='{ "hostname" : "TESTHOST", "version" : "TESTVERSION", "storage" : { "total-bytes" : 4096, "used-bytes" : 1523 }, "memory" : {"bytes-per-page" : 4096, "active-pages" : 50, "free-pages" : 100, "inactive-pages" : 30 }, "cpu" : [{"user":50,"system":10,"idle":40}], "cpu_temperatures" : [30], "disk" : [{"Name":"ada0", "KBps read" : 60, "KBps write" : 20}]}'

#Now submit the statistics
URL="https://${TC_SYSTEM}/api/external/submit_stats"
echo "Submitting Stats: ${URL}"
echo "${DATA}" | jq -r . #Helps verify that the JSON was formatted properly
echo "----------"
curl -k --data "${DATA}" -u ":${TC_TOKEN}" -X PUT "${URL}"
"""  # noqa: E501 - the reference's script, unchanged

pytestmark = pytest.mark.anyio
ADMIN = Actor("test", "127.0.0.1")


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[Hub]:
    the_hub = await started(make_hub(tmp_path), rounds=1)
    yield the_hub
    await the_hub.stop()


async def test_the_reference_body_is_committed(hub: Hub) -> None:
    system, token = await hub.admin.add_system(ADMIN, "nas1")
    async with client_for(hub) as c:
        response = await c.put("/api/external/submit_stats", content=SCRIPT_DATA, auth=("", token))
        assert response.status_code == 200
        assert response.json() == {"result": "success"}
        posted = await c.post(
            "/api/external/submit_stats", content=SCRIPT_DATA, auth=("any", token)
        )
        assert posted.json() == {"result": "success"}  # the Basic user name is ignored
    snapshot = await hub.store.latest_snapshot(system.id)
    assert snapshot is not None
    assert snapshot.source == "push"
    assert snapshot.document["hostname"] == "TESTHOST"
    assert snapshot.normalized["cpu"]["total"] == 60.0
    assert await hub.store.count_snapshots(system.id) == 2
    for _ in range(100):  # last_seen follows the acknowledged snapshot, not holding the reply
        seen = await hub.store.get_system("nas1")
        assert seen is not None
        if seen.last_seen == snapshot.created_at:
            break
        await asyncio.sleep(0.01)
    assert seen is not None
    assert seen.hostname == "TESTHOST"
    assert seen.last_seen == snapshot.created_at


async def test_pushed_snapshots_are_evaluated_by_the_alert_engine(hub: Hub) -> None:
    system, token = await hub.admin.add_system(ADMIN, "busy")
    body = '{"hostname": "busy", "cpu": [{"user": 97, "system": 2, "idle": 1}]}'
    async with client_for(hub) as c:
        assert (
            await c.put("/api/external/submit_stats", content=body, auth=("", token))
        ).status_code == 200
    assert hub.pushed is not None
    [event] = hub.pushed.services[system.id].engine.as_glances()
    assert event["type"] == "CPU_TOTAL"
    assert event["state"] == "CRITICAL"


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (
            '{"hostname": "h", "cpu": [{"user": "x", "system": 1, "idle": 1}]}',
            "cpu[0].user must be a number",
        ),
        ('{"hostname": "h",\n "cpu": [}', "malformed JSON at line 2 column"),
        ('{"cpu": []}', "hostname is required"),
        ('{"hostname": NaN}', "malformed JSON"),
    ],
)
async def test_bad_bodies_are_400_in_truecommand_shape_and_store_nothing(
    hub: Hub, body: str, error: str
) -> None:
    system, token = await hub.admin.add_system(ADMIN, "bad")
    async with client_for(hub) as c:
        response = await c.put("/api/external/submit_stats", content=body, auth=("", token))
    assert response.status_code == 400
    data = response.json()
    assert error in data["error"]
    assert data["code"] == "400"
    assert data["message"] == "Bad Request"
    assert await hub.store.count_snapshots(system.id) == 0


async def test_credentials(hub: Hub) -> None:
    await hub.admin.add_system(ADMIN, "nas2")
    await hub.admin.add_user(ADMIN, "alice", "correct horse battery", ["admin"])
    async with client_for(hub) as c:
        anonymous = await c.put("/api/external/submit_stats", content=SCRIPT_DATA)
        assert anonymous.status_code == 401
        assert anonymous.json()["code"] == "401"
        assert anonymous.json()["message"] == "Unauthorized"
        wrong = await c.put("/api/external/submit_stats", content=SCRIPT_DATA, auth=("", "nope"))
        assert wrong.status_code == 401
        user = await c.put(
            "/api/external/submit_stats",
            content=SCRIPT_DATA,
            auth=("alice", "correct horse battery"),
        )
        assert user.status_code == 403
        assert "system token" in user.json()["error"]


async def test_oversized_bodies_are_413(hub: Hub) -> None:
    _, token = await hub.admin.add_system(ADMIN, "big")
    body = '{"hostname": "h", "pad": "' + "x" * (1024 * 1024) + '"}'
    async with client_for(hub) as c:
        response = await c.put("/api/external/submit_stats", content=body, auth=("", token))
    assert response.status_code == 413
    assert response.json()["code"] == "413"


def test_the_reference_script_runs_as_it_stands_over_https(tmp_path: Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(certfile))
    cert.private_key_pem.write_to_path(str(keyfile))
    data_dir = tmp_path / "data"
    with ServeProcess(data_dir, "--certfile", str(certfile), "--keyfile", str(keyfile)) as proc:
        token = _add_system(data_dir, "nas1")
        system = proc.url.removeprefix("https://")
        script = REFERENCE_SCRIPT.replace('TC_SYSTEM="CHANGEME"', f'TC_SYSTEM="{system}"')
        script = script.replace('TC_TOKEN="CHANGEME"', f'TC_TOKEN="{token}"')
        (tmp_path / "submit.sh").write_text(script)
        result = subprocess.run(["sh", str(tmp_path / "submit.sh")], capture_output=True, text=True,
                                timeout=30, check=False)  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert result.stdout.rstrip().endswith('{"result":"success"}')
        glances = httpx.get(proc.url + "/api/4/status", verify=False)
        assert glances.status_code == 200


def _add_system(data_dir: Path, name: str) -> str:
    """Register a system in the running hub's SQLite file from another connection, like the CLI."""

    async def add() -> str:
        store = open_store(f"sqlite:///{data_dir / 'fleetwatch.sqlite3'}")
        await store.open()
        try:
            admin = Admin(store, PasswordHashing())
            return (await admin.add_system(ADMIN, name))[1]
        finally:
            await store.close()

    return asyncio.run(add())


async def test_submit_alerts_become_events_combined_by_id(hub: Hub) -> None:
    system, token = await hub.admin.add_system(ADMIN, "nas3")
    first = {
        "pool-degraded": {
            "source": "zfs",
            "type": "warning",
            "time_t": 1700000000,
            "text": "tank degraded",
        },
        "fan": {
            "source": "ipmi",
            "type": "information",
            "time_t": 1700000005,
            "text": "fan 2 slow",
        },
    }
    again = {
        "pool-degraded": {
            "source": "zfs",
            "type": "critical",
            "time_t": 1700000600,
            "text": "tank faulted",
        }
    }
    async with client_for(hub) as c:
        for body in (first, again):
            response = await c.put("/api/external/submit_alerts", json=body, auth=("", token))
            assert response.json() == {"result": "success"}
        bad = await c.post("/api/external/submit_alerts", json={"x": {"source": "s", "type": "boom",
                                                                      "time_t": 1, "text": "t"}},
                           auth=("", token))  # fmt: skip
        assert bad.status_code == 400
        assert "type must be one of information, warning, critical" in bad.json()["error"]
    events = {e.type: e for e in await hub.store.list_events(system_id=system.id)}
    assert set(events) == {"ALERT_pool-degraded", "ALERT_fan"}
    pool = events["ALERT_pool-degraded"]
    assert pool.state == "CRITICAL"
    assert pool.desc == "tank faulted"
    assert pool.begin == 1700000000
    assert pool.count == 2
    assert len(pool.data["submissions"]) == 2
    assert events["ALERT_fan"].state == "INFORMATION"


async def test_a_full_writer_queue_answers_503_with_retry_after(tmp_path: Path) -> None:
    config = load_config(env={}, flags={("storage", "data_dir"): str(tmp_path / "q"),
                                        ("storage", "queue_size"): 1})  # fmt: skip
    small = await started(build_hub(config), rounds=1)
    try:
        system, token = await small.admin.add_system(ADMIN, "flood")
        async with client_for(small) as c:
            responses = await asyncio.gather(*[
                c.put("/api/external/submit_stats", json={"hostname": f"h{n}"}, auth=("", token))
                for n in range(60)
            ])  # fmt: skip
        refused = [r for r in responses if r.status_code == 503]
        accepted = [r for r in responses if r.status_code == 200]
        assert refused, "60 concurrent writes should overflow a one-slot queue"
        assert all(r.headers["retry-after"].isdigit() for r in refused)
        assert refused[0].json()["code"] == "503"
        assert len(accepted) + len(refused) == 60
        assert await small.store.count_snapshots(system.id) == len(accepted)  # none half-written
    finally:
        await small.stop()


async def test_each_accepted_snapshot_is_published_on_the_event_bus(hub: Hub) -> None:
    _, token = await hub.admin.add_system(ADMIN, "nas4")
    subscription = hub.bus.subscribe()
    async with client_for(hub) as c:
        await c.put("/api/external/submit_stats", content=SCRIPT_DATA, auth=("", token))
        await c.put("/api/external/submit_stats", content='{"hostname": 1}', auth=("", token))
    event = await asyncio.wait_for(subscription.get(), 1)
    assert event == {
        "event": "new_statistics", "system": "nas4", "system_id": event["system_id"],
        "hostname": "TESTHOST", "version": "TESTVERSION", "cpu_num": 1, "memory_bytes": 180 * 4096,
    }  # fmt: skip
    assert subscription.queue.empty()  # the refused one published nothing
    subscription.close()


def test_a_slow_subscriber_loses_its_oldest_events_not_the_publisher() -> None:
    bus = EventBus()
    slow = bus.subscribe(size=2)
    for n in range(5):
        bus.publish({"n": n})
    assert slow.dropped == 3
    assert [slow.queue.get_nowait()["n"], slow.queue.get_nowait()["n"]] == [3, 4]
