"""Tags on systems, hosts and services: the store (both backends), the admin API, the list
queries, the CLI and the TOML ``checks`` tables."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import orjson
import pytest
from hubs import add_user, client_for, started
from serving import run_cli
from test_console_session import console_hub

from fleetwatch.app import Hub
from fleetwatch.config import load_config
from fleetwatch.engine.declared import apply_declared
from fleetwatch.model.tags import MAX_TAGS
from fleetwatch.store import EventRecord, NotFound, Store

pytestmark = pytest.mark.anyio


async def test_systems_keep_sorted_unique_tags(store: Store) -> None:
    await store.add_system("web1")
    assert await store.tag_system("web1", add=["web", "prod", "web"]) == ["prod", "web"]
    assert await store.tag_system("web1", add=["eu"], remove=["web"]) == ["eu", "prod"]
    assert await store.system_tags("web1") == ["eu", "prod"]
    for bad in ("", "with space", "-dash-first", "x" * 65, "new\nline"):
        with pytest.raises(ValueError, match="a tag is"):
            await store.tag_system("web1", add=[bad])
    with pytest.raises(ValueError, match=f"at most {MAX_TAGS}"):
        await store.tag_system("web1", add=[f"t{i}" for i in range(MAX_TAGS)])
    assert await store.system_tags("web1") == ["eu", "prod"]  # nothing half-written
    with pytest.raises(NotFound):
        await store.tag_system("nobody", add=["x"])


async def test_hosts_and_services_keep_tags(store: Store) -> None:
    await store.add_check_object("host", "nas1")
    await store.add_check_object("service", "nas1", "backup")
    assert await store.tag_check_object("nas1", add=["storage"]) == ["storage"]
    assert await store.tag_check_object("nas1", "backup", add=["nightly"]) == ["nightly"]
    assert await store.all_check_object_tags() == {
        ("nas1", ""): ["storage"], ("nas1", "backup"): ["nightly"],
    }  # fmt: skip
    with pytest.raises(NotFound, match="service 'disk' on host 'nas1'"):
        await store.tag_check_object("nas1", "disk", add=["x"])


async def test_the_fleet_overview_is_one_row_per_system(store: Store) -> None:
    web = await store.add_system("web1", hostname="web1.example")
    await store.add_system("fleetwatch-checks", source="checks")
    await store.add_system("never")
    await store.tag_system("web1", add=["prod"])
    normalized = {"cpu": {"total": 12.5}, "fs": [{"mnt_point": "/", "percent": 81.0,
                                                  "size": 10, "used": 8}]}  # fmt: skip
    await store.add_snapshot(web.id, 100.0, {"version": "1.2"}, {"cpu": {"total": 99}}, "push")
    await store.add_snapshot(web.id, 200.0, {"version": "1.3"}, normalized, "push")
    await store.save_event(EventRecord(None, web.id, 150.0, -1, "CRITICAL", "CPU_TOTAL",
                                       99, 99, 99, 99, 1))  # fmt: skip
    rows = await store.fleet_overview()
    assert [r.name for r in rows] == ["never", "web1"]
    never, web1 = rows
    assert (never.snapshot_at, never.summary, never.open_events) == (None, {}, 0)
    assert web1.tags == ("prod",)
    assert web1.snapshot_at == 200.0
    assert web1.summary["cpu_percent"] == 12.5
    assert web1.summary["fs_max_percent"] == 81.0
    assert web1.summary["agent_version"] == "1.3"
    assert web1.open_events == 1


@pytest.fixture
async def hub(store_url: str, tmp_path: Path) -> AsyncIterator[Hub]:
    database = "" if store_url.startswith("sqlite") else store_url
    the_hub = await started(console_hub(tmp_path, database))
    yield the_hub
    await the_hub.store.close()


async def test_the_admin_api_tags_and_the_lists_filter_by_tag(hub: Hub) -> None:
    admin = await add_user(hub, "alice", "alice-password", "admin")
    reader = await add_user(hub, "rita", "rita-password", "readonly")
    for name in ("web1", "web2"):
        await hub.store.add_system(name)
    await hub.store.add_check_object("host", "nas1")
    await hub.store.add_check_object("service", "nas1", "backup")
    async with client_for(hub) as client:
        tagged = await client.post("/api/v1/systems.tag", json={"name": "web1",
                                   "add": ["prod", "web"]}, headers=admin)  # fmt: skip
        assert tagged.json() == {"tags": ["prod", "web"], "success": True}
        refused = await client.post("/api/v1/systems.tag", json={"name": "web2", "add": "x"},
                                    headers=reader)  # fmt: skip
        assert refused.status_code == 403
        bad = await client.post("/api/v1/systems.tag", json={"name": "web2", "add": ["a b"]},
                                headers=admin)  # fmt: skip
        assert bad.status_code == 400
        assert "a tag is" in bad.json()["error"]
        missing = await client.post("/api/v1/systems.tag", json={"name": "web2"}, headers=admin)
        assert missing.status_code == 400
        unknown = await client.post("/api/v1/systems.tag", json={"name": "nope", "add": "x"},
                                    headers=admin)  # fmt: skip
        assert unknown.status_code == 404
        service = await client.post("/api/v1/services.tag", json={"host_name": "nas1",
                                    "service_description": "backup", "add": "nightly"},
                                    headers=admin)  # fmt: skip
        assert service.json()["tags"] == ["nightly"]
        host = await client.post("/api/v1/hosts.tag", json={"host_name": "nas1",
                                 "add": ["storage"]}, headers=admin)  # fmt: skip
        assert host.json()["tags"] == ["storage"]

        query = orjson.dumps({"tags": "prod"}).decode()
        systems = await client.get("/api/v1/systems.list", params={"query": query}, headers=admin)
        assert [s["name"] for s in systems.json()["systems"]] == ["web1"]
        query = orjson.dumps({"tags": {"$in": ["nightly"]}}).decode()
        services = await client.get("/api/v1/services.list", params={"query": query},
                                    headers=admin)  # fmt: skip
        assert [s["service_description"] for s in services.json()["services"]] == ["backup"]


def test_the_cli_tags_and_untags(tmp_path: Path) -> None:
    data = ["--data-dir", str(tmp_path)]
    assert run_cli("system", "add", "web1", *data).returncode == 0
    tagged = run_cli("system", "tag", "web1", "prod", "web", *data)
    assert (tagged.returncode, tagged.stdout) == (0, "prod web\n")
    untagged = run_cli("system", "untag", "web1", "web", *data)
    assert untagged.stdout == "prod\n"
    bad = run_cli("system", "tag", "web1", "no spaces", *data)
    assert bad.returncode == 1
    assert "a tag is" in bad.stderr
    assert run_cli("service", "add", "nas1", "backup", *data).returncode == 0
    assert run_cli("service", "tag", "nas1", "backup", "nightly", *data).stdout == "nightly\n"
    assert run_cli("service", "untag", "nas1", "backup", "nightly", *data).stdout == "\n"
    assert run_cli("host", "tag", "nas1", "storage", *data).stdout == "storage\n"
    assert run_cli("host", "untag", "nas1", "storage", *data).stdout == "\n"


async def test_declared_tags_are_applied(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "fleetwatch.toml"
    path.write_text('[[checks.services]]\nhost_name = "nas1"\nservice_description = "backup"\n'
                    'tags = ["nightly", "storage"]\n')  # fmt: skip
    declared = load_config(path, env={}).check_objects
    await apply_declared(store, declared)
    assert await store.check_object_tags("nas1", "backup") == ["nightly", "storage"]
    assert await store.check_object_tags("nas1") == []  # the implied host: left alone
    path.write_text('[[checks.services]]\nhost_name = "nas1"\nservice_description = "backup"\n'
                    'tags = ["storage"]\n')  # fmt: skip
    await apply_declared(store, load_config(path, env={}).check_objects)
    assert await store.check_object_tags("nas1", "backup") == ["storage"]
    path.write_text('[[checks.hosts]]\nhost_name = "h"\ntags = ["bad tag"]\n')
    with pytest.raises(ValueError, match=r"checks.hosts\[1\]: tags a tag is"):
        load_config(path, env={})
