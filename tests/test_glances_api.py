"""The /api/4 routes in process (httpx over ASGI), against a hub measuring this machine."""

from __future__ import annotations

import gzip
import os
from typing import Any

import httpx
import orjson
import pytest
from hubs import client_for, make_hub, started

from fleetwatch.app import Hub, build_hub
from fleetwatch.collect.registry import PLUGIN_NAMES
from fleetwatch.config import load_config

pytestmark = pytest.mark.anyio

REFERENCE_PLUGINS = [
    "alert", "amps", "cloud", "connections", "containers", "core", "cpu", "diskio", "folders",
    "fs", "gpu", "help", "ip", "irq", "load", "mem", "memswap", "network", "now", "percpu",
    "ports", "processcount", "processlist", "programlist", "psutilversion", "quicklook", "raid",
    "sensors", "smart", "system", "uptime", "version", "vms", "wifi",
]  # fmt: skip


def body(response: httpx.Response) -> Any:
    assert response.headers["content-type"].startswith("application/json"), response.text
    return orjson.loads(response.content)


async def test_status_answers_get_and_head(client: httpx.AsyncClient) -> None:
    got = await client.get("/api/4/status")
    assert got.status_code == 200
    assert "version" in body(got)
    head = await client.head("/api/4/status")
    assert head.status_code == 200
    assert head.content == b""


async def test_pluginslist_is_the_reference_list(client: httpx.AsyncClient) -> None:
    assert body(await client.get("/api/4/pluginslist")) == REFERENCE_PLUGINS
    assert list(PLUGIN_NAMES) == REFERENCE_PLUGINS


@pytest.mark.parametrize("name", REFERENCE_PLUGINS)
async def test_every_plugin_route_serves_the_published_stats(
    client: httpx.AsyncClient, hub: Hub, name: str
) -> None:
    response = await client.get(f"/api/4/{name}")
    assert response.status_code == 200
    assert hub.live.published is not None
    assert body(response) == orjson.loads(hub.live.published.states[name].body)


async def test_all_holds_every_plugin(client: httpx.AsyncClient) -> None:
    data = body(await client.get("/api/4/all"))
    assert sorted(data) == sorted(REFERENCE_PLUGINS)
    assert data["core"]["log"] == os.cpu_count()
    assert isinstance(data["processlist"], list)
    assert data["processlist"]


async def test_gzip_when_asked(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/4/all", headers={"accept-encoding": "gzip"})
    assert response.headers.get("content-encoding") == "gzip"
    plain = await client.get("/api/4/all", headers={"accept-encoding": "identity"})
    assert "content-encoding" not in plain.headers
    # httpx decodes gzip itself; compare with what the hub compressed.
    assert orjson.loads(response.content) == orjson.loads(plain.content)
    raw = gzip.decompress(gzip.compress(plain.content))
    assert raw == plain.content


async def test_limits_use_glances_names_and_defaults(client: httpx.AsyncClient) -> None:
    limits = body(await client.get("/api/4/all/limits"))
    assert limits["cpu"]["cpu_user_careful"] == 50.0
    assert limits["cpu"]["cpu_total_critical"] == 85.0
    assert limits["cpu"]["history_size"] == 1200.0
    assert limits["fs"]["fs_hide"] == ["/boot.*", ".*/snap.*"]
    assert body(await client.get("/api/4/cpu/limits")) == limits["cpu"]


async def test_views_carry_decorations(client: httpx.AsyncClient, hub: Hub) -> None:
    views = body(await client.get("/api/4/cpu/views"))
    assert set(views["total"]) == {"decoration", "optional", "additional", "splittable", "hidden"}
    assert views["total"]["decoration"] in {"OK", "CAREFUL", "WARNING", "CRITICAL"}
    assert views["idle"]["decoration"] == "DEFAULT"
    fs = body(await client.get("/api/4/fs/views"))
    assert fs["/"]["used"]["decoration"] in {"OK", "CAREFUL", "WARNING", "CRITICAL"}
    all_views = body(await client.get("/api/4/all/views"))
    assert all_views["cpu"]["total"]["decoration"] == views["total"]["decoration"]
    total = body(await client.get("/api/4/cpu/total/views"))
    assert total == views["total"]


async def test_single_field_of_dict_and_list_plugins(client: httpx.AsyncClient) -> None:
    total = body(await client.get("/api/4/cpu/total"))
    assert list(total) == ["total"]
    assert 0.0 <= total["total"] <= 100.0
    names = body(await client.get("/api/4/percpu/cpu_number"))
    assert names == {"cpu_number": list(range(os.cpu_count() or 1))}
    mounts = body(await client.get("/api/4/fs/mnt_point"))
    assert "/" in mounts["mnt_point"]


async def test_integer_keys_match_url_text(client: httpx.AsyncClient) -> None:
    one = body(await client.get("/api/4/percpu/total/0"))
    assert list(one) == ["total"]
    matched = body(await client.get("/api/4/percpu/cpu_number/value/0"))
    assert list(matched) == ["0"]
    assert matched["0"][0]["cpu_number"] == 0


async def test_value_may_contain_slashes(client: httpx.AsyncClient) -> None:
    root = body(await client.get("/api/4/fs/mnt_point/value//"))
    assert root["/"][0]["mnt_point"] == "/"


async def test_description_and_unit(client: httpx.AsyncClient) -> None:
    assert body(await client.get("/api/4/diskio/read_bytes/description")) == "Number of bytes read"
    assert body(await client.get("/api/4/diskio/read_bytes/unit")) == "byte"
    assert body(await client.get("/api/4/cpu/total/unit")) == "percent"
    rate = body(await client.get("/api/4/diskio/read_bytes_rate_per_sec/unit"))
    assert rate == "byte per second"


async def test_counters_carry_rates_and_gauges(client: httpx.AsyncClient) -> None:
    cpu = body(await client.get("/api/4/cpu"))
    for name in ("ctx_switches", "interrupts", "soft_interrupts", "syscalls"):
        assert {name, f"{name}_gauge", f"{name}_rate_per_sec"} <= set(cpu)
    assert cpu["time_since_update"] > 0
    assert cpu["ctx_switches_gauge"] > 0
    for disk in body(await client.get("/api/4/diskio")):
        assert disk["key"] == "disk_name"
        assert {"read_bytes_gauge", "read_bytes_rate_per_sec", "time_since_update"} <= set(disk)


async def test_history(client: httpx.AsyncClient, hub: Hub) -> None:
    history = body(await client.get("/api/4/cpu/history"))
    assert set(history) == {"total", "user", "system"}
    assert len(history["user"]) == hub.live.collections
    timestamp, value = history["user"][-1]
    assert timestamp.count("T") == 1
    assert isinstance(value, float)
    assert len(body(await client.get("/api/4/cpu/history/1"))["user"]) == 1
    assert len(body(await client.get("/api/4/cpu/system/history"))["system"]) >= 2
    assert len(body(await client.get("/api/4/cpu/system/history/1"))["system"]) == 1
    network = body(await client.get("/api/4/network/history"))
    for name in network:
        assert name.endswith(("_bytes_recv_rate_per_sec", "_bytes_sent_rate_per_sec"))


async def test_top_and_processes(client: httpx.AsyncClient) -> None:
    top = body(await client.get("/api/4/processlist/top/2"))
    assert len(top) == 2
    cpus = [p["cpu_percent"] for p in body(await client.get("/api/4/processlist"))]
    assert cpus == sorted(cpus, reverse=True)
    me = body(await client.get(f"/api/4/processes/{os.getpid()}"))
    assert me["pid"] == os.getpid()
    assert me["key"] == "pid"


async def test_extended_process_stats(client: httpx.AsyncClient, hub: Hub) -> None:
    pid = os.getpid()
    assert (await client.post(f"/api/4/processes/extended/{pid}")).status_code == 200
    hub.live.publish(hub.live.gather())
    extended = body(await client.get("/api/4/processes/extended"))
    assert extended["pid"] == pid
    assert extended["extended_stats"] is True
    assert extended["num_fds"] > 0
    assert (await client.post("/api/4/processes/extended/disable")).status_code == 200
    assert body(await client.get("/api/4/processes/extended")) == {}


async def test_config_and_args_mask_secrets(tmp_path: Any) -> None:
    hub = make_hub(tmp_path)
    hub.config.values["storage"]["database"] = "postgresql://fw:s3cret@127.0.0.1/fw"
    await started(hub, rounds=1)
    try:
        async with client_for(hub) as c:
            config = body(await c.get("/api/4/config"))
            assert config["server"]["port"] == 61208
            assert "s3cret" not in (await c.get("/api/4/config")).text
            assert "s3cret" not in (await c.get("/api/4/args")).text
            assert body(await c.get("/api/4/config/server/bind")) == "127.0.0.1"
            assert body(await c.get("/api/4/args/refresh")) == 2.0
            assert (await c.get("/api/4/config/nope")).status_code == 404
    finally:
        await hub.store.close()


async def test_clear_events(client: httpx.AsyncClient) -> None:
    for which in ("all", "warning"):
        response = await client.post(f"/api/4/events/clear/{which}")
        assert response.status_code == 200


@pytest.mark.parametrize(
    ("path", "status", "words"),
    [
        ("/api/4/nope", 404, "Unknown plugin 'nope'"),
        ("/api/4/cpu/nope", 404, "Unknown field 'nope'"),
        ("/api/4/cpu/history/abc", 400, "positive integer"),
        ("/api/4/cpu/history/0", 400, "positive integer"),
        ("/api/4/processlist/top/x", 400, "positive integer"),
        ("/api/4/cpu/top/2", 400, "not a list"),
        ("/api/4/processes/abc", 400, "pid must be a positive integer"),
        ("/api/4/processes/999999999", 404, "Unknown pid"),
        ("/api/4/network/bytes_recv/no-such-interface", 404, "no-such-interface"),
        ("/api/4/fs/nope/value/x", 404, "Unknown field 'nope'"),
        ("/api/4/cpu/nope/description", 404, "Unknown field 'nope'"),
        ("/api/4/uptime/x", 404, "no fields"),
        ("/api/4/all/nope", 404, "Unknown route"),
        ("/api/4", 404, "Unknown route"),
    ],
)
async def test_errors_are_json_and_name_the_problem(
    client: httpx.AsyncClient, path: str, status: int, words: str
) -> None:
    response = await client.get(path)
    assert response.status_code == status
    assert words in body(response)["detail"]


async def test_wrong_method_is_405_with_allow(client: httpx.AsyncClient) -> None:
    response = await client.post("/api/4/cpu")
    assert response.status_code == 405
    assert response.headers["allow"] == "GET, HEAD"
    assert (await client.get("/api/4/events/clear/all")).status_code == 405


async def test_no_path_gives_a_500(client: httpx.AsyncClient) -> None:
    paths = [
        "/api/4/%00", "/api/4/cpu/%2e%2e", "/api/4/processes/-1", "/api/4/processes/1e9",
        "/api/4/percpu/total/999", "/api/4/network/interface_name/value/",
        "/api/4/cpu/total/history/-3", "/api/4/config/server/port/deeper", "/api/4/" + "a" * 5000,
        "/api/4/processlist/pid/value/abc", "/api/4/help/x", "/api/4/quicklook/percpu/views",
    ]  # fmt: skip
    for path in paths:
        response = await client.get(path)
        assert response.status_code < 500, (path, response.text)
        assert "detail" in body(response) or response.status_code == 200


async def test_dns_rebinding_host_is_refused(client: httpx.AsyncClient) -> None:
    response = await client.get("/api/4/cpu", headers={"host": "attacker.example"})
    assert response.status_code == 421
    ok = await client.get("/api/4/cpu", headers={"host": "localhost:61208"})
    assert ok.status_code == 200


async def test_url_prefix_moves_every_route(tmp_path: Any) -> None:
    hub = await started(make_hub(tmp_path, url_prefix="/glances/"), rounds=1)
    try:
        async with client_for(hub) as c:
            assert (await c.get("/glances/api/4/cpu")).status_code == 200
            assert (await c.get("/api/4/cpu")).status_code == 404
            assert (await c.get("/glances/openapi.json")).status_code == 200
            assert (await c.get("/glances/")).status_code == 200
    finally:
        await hub.store.close()


async def test_webui_and_its_switch(client: httpx.AsyncClient, tmp_path: Any) -> None:
    page = await client.get("/")
    assert page.status_code == 200
    assert "Fleetwatch" in page.text
    assert (await client.get("/static/console.js")).status_code == 200
    hub = await started(make_hub(tmp_path, disable_webui=True), rounds=1)
    try:
        async with client_for(hub) as c:
            assert (await c.get("/")).status_code == 404
            assert (await c.get("/api/4/cpu")).status_code == 200
    finally:
        await hub.store.close()


async def test_connections_are_opt_in_as_in_glances(
    client: httpx.AsyncClient, tmp_path: Any
) -> None:
    """Disabled by default (the reference's example body); real figures once enabled."""
    off = body(await client.get("/api/4/connections"))
    assert off == {"net_connections_enabled": True, "nf_conntrack_enabled": True}
    config = load_config(
        env={"FLEETWATCH_CONNECTIONS_DISABLE": "false"},
        flags={("storage", "data_dir"): str(tmp_path)},
    )
    hub = await started(build_hub(config), rounds=1)
    try:
        async with client_for(hub) as c:
            on = body(await c.get("/api/4/connections"))
            assert on["LISTEN"] >= 1
            assert "initiated" in on
    finally:
        await hub.store.close()
