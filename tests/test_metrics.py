"""``GET /metrics`` in process: families, labels, auth, negotiation, staleness, promtool."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest
from hubs import add_user, client_for, make_hub, started
from prometheus_client import generate_latest
from prometheus_client.core import Metric
from prometheus_client.openmetrics.parser import (
    text_string_to_metric_families as openmetrics_families,
)
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.samples import Sample
from test_ingest_submit_stats import SCRIPT_DATA

from fleetwatch.api.metrics_instruments import family_of
from fleetwatch.api.metrics_systems import Families, SystemView, system_families
from fleetwatch.app import Hub
from fleetwatch.auth.admin import Actor

pytestmark = pytest.mark.anyio

PROMTOOL = shutil.which("promtool")
needs_promtool = pytest.mark.skipif(
    PROMTOOL is None and os.environ.get("CI") != "true",
    reason="promtool missing: scripts/ensure_prometheus.sh installs it",
)


def samples(text: str) -> list[Sample]:
    return [s for family in text_string_to_metric_families(text) for s in family.samples]


def value(text: str, name: str, **labels: str) -> float:
    found = [
        s.value
        for s in samples(text)
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items())
    ]
    assert len(found) == 1, (name, labels, found)
    return found[0]


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[Hub]:
    the_hub = await started(make_hub(tmp_path), rounds=2)
    _, token = await the_hub.admin.add_system(Actor("t", "127.0.0.1"), "nas1")
    await the_hub.admin.add_system(Actor("t", "127.0.0.1"), "silent")
    reader = await add_user(the_hub, "reader", "reader password", "readonly")
    assert the_hub.checks is not None
    await the_hub.store.add_check_object("host", "web1")
    await the_hub.store.add_check_object("service", "web1", "disk")
    async with client_for(the_hub) as c:
        assert (
            await c.put("/api/external/submit_stats", content=SCRIPT_DATA, auth=("", token))
        ).status_code == 200
        status = {"host_name": "web1", "service_description": "disk", "status_code": 2,
                  "plugin_output": "disk full"}  # fmt: skip
        admin = await add_user(the_hub, "admin", "admin password", "admin")
        sent = await c.post("/api/command/PROCESS_SERVICE_CHECK_RESULT", json=status,
                            headers=admin)  # fmt: skip
        assert sent.status_code == 200, sent.text
        refused = await c.put("/api/external/submit_stats", content=b"{", auth=("", token))
        assert refused.status_code == 400
    assert the_hub.last_seen is not None
    await the_hub.last_seen.flush()
    the_hub.reader = reader  # type: ignore[attr-defined]
    yield the_hub
    await the_hub.stop()


async def scrape(hub: Hub, accept: str | None = None) -> str:
    headers = dict(hub.reader)  # type: ignore[attr-defined]
    if accept:
        headers["accept"] = accept
    async with client_for(hub) as c:
        answer = await c.get("/metrics", headers=headers)
    assert answer.status_code == 200, answer.text
    return answer.text


async def test_a_pushed_system_in_base_units_with_labels(hub: Hub) -> None:
    text = await scrape(hub)
    nas = {"system": "nas1", "hostname": "TESTHOST"}
    assert value(text, "fleetwatch_system_up", **nas) == 1.0
    assert value(text, "fleetwatch_cpu_usage_ratio", **nas) == pytest.approx(0.6)
    assert value(text, "fleetwatch_cpu_mode_ratio", mode="user", **nas) == pytest.approx(0.5)
    assert value(text, "fleetwatch_memory_total_bytes", **nas) == 180 * 4096
    fs = {**nas, "mountpoint": "/"}
    assert value(text, "fleetwatch_filesystem_size_bytes", **fs) == 4096
    assert value(text, "fleetwatch_filesystem_used_bytes", **fs) == 1523
    assert value(text, "fleetwatch_disk_read_bytes_per_second", disk="ada0", **nas) == 60 * 1024
    assert value(text, "fleetwatch_temperature_celsius", sensor="CPU 0", **nas) == 30.0
    assert value(text, "fleetwatch_system_last_seen_timestamp_seconds", **nas) > 1.7e9


async def test_never_reported_systems_are_down_and_the_hub_itself_is_up(hub: Hub) -> None:
    text = await scrape(hub)
    assert value(text, "fleetwatch_system_up", system="silent") == 0.0
    ups = [s for s in samples(text) if s.name == "fleetwatch_system_up" and s.value == 1.0]
    assert {s.labels["system"] for s in ups} >= {"nas1"}
    assert len(ups) == 2  # nas1 and the hub's own machine


async def test_a_stale_system_reads_0(hub: Hub) -> None:
    assert hub.staleness is not None
    nas = await hub.store.get_system("nas1")
    assert nas is not None
    hub.staleness.clock = lambda: 1e12  # far past any window
    assert nas.id in await hub.staleness.check()
    assert hub.metrics is not None
    await hub.metrics.rebuild()
    assert value(await scrape(hub), "fleetwatch_system_up", system="nas1") == 0.0


async def test_checks_events_and_the_hub_itself(hub: Hub) -> None:
    text = await scrape(hub)
    disk = {"host": "web1", "service": "disk"}
    assert value(text, "fleetwatch_service_state", **disk) == 2.0
    assert value(text, "fleetwatch_service_state_hard", **disk) in (0.0, 1.0)
    assert value(text, "fleetwatch_service_acknowledged", **disk) == 0.0
    assert value(text, "fleetwatch_service_in_downtime", **disk) == 0.0
    assert value(text, "fleetwatch_service_last_result_timestamp_seconds", **disk) > 1.7e9
    assert value(text, "fleetwatch_host_checked", host="web1") == 0.0
    assert not [s for s in samples(text) if s.name == "fleetwatch_host_state"]  # PENDING
    assert value(text, "fleetwatch_submissions_total", family="submit_stats",
                 outcome="accepted") == 1.0  # fmt: skip
    assert value(text, "fleetwatch_submissions_total", family="submit_stats",
                 outcome="refused") == 1.0  # fmt: skip
    assert value(text, "fleetwatch_submissions_total", family="check_result",
                 outcome="accepted") == 1.0  # fmt: skip
    assert value(text, "fleetwatch_store_commit_duration_seconds_count") >= 1
    assert value(text, "fleetwatch_http_request_duration_seconds_count", family="submit_stats") >= 2
    assert value(text, "fleetwatch_store_size_bytes") > 0
    assert value(text, "fleetwatch_store_write_queue_depth") >= 0
    opened = [s for s in samples(text) if s.name == "fleetwatch_events_open"]
    assert all(s.labels.keys() == {"system", "severity"} for s in opened)


async def test_openmetrics_when_asked(hub: Hub) -> None:
    headers = {**hub.reader, "accept": "application/openmetrics-text; version=1.0.0"}  # type: ignore[attr-defined]
    async with client_for(hub) as c:
        answer = await c.get("/metrics", headers=headers)
        plain = await c.get("/metrics", headers=hub.reader)  # type: ignore[attr-defined]
    assert answer.headers["content-type"].startswith("application/openmetrics-text")
    assert answer.text.endswith("# EOF\n")
    assert plain.headers["content-type"].startswith("text/plain; version=0.0.4")


async def test_credentials_like_the_other_read_routes(hub: Hub) -> None:
    async with client_for(hub) as c:
        assert (await c.get("/metrics")).status_code == 401
        nobody = await add_user(hub, "nobody", "nobody password")
        refused = await c.get("/metrics", headers=nobody)
        assert refused.status_code == 403
        assert "view-statistics" in refused.json()["detail"]
        token = await hub.admin.user_token(Actor("t", "127.0.0.1"), "reader", "prometheus")
        bearer = await c.get("/metrics", headers={"authorization": f"Bearer {token}"})
        assert bearer.status_code == 200


@needs_promtool
async def test_promtool_accepts_the_output(hub: Hub) -> None:
    text = await scrape(hub)
    assert PROMTOOL is not None
    checked = subprocess.run([PROMTOOL, "check", "metrics"], input=text, text=True,
                             capture_output=True, timeout=60, check=False)  # fmt: skip
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout + checked.stderr == ""  # not even a lint warning


async def test_the_openmetrics_output_parses_strictly(hub: Hub) -> None:
    # promtool (2.42) lints the Prometheus text format only; the OpenMetrics parser of
    # prometheus_client checks the other encoding (it raises on any violation).
    text = await scrape(hub, "application/openmetrics-text; version=1.0.0")
    names = {f.name for f in openmetrics_families(text)}  # type: ignore[no-untyped-call]
    assert {"fleetwatch_system_up", "fleetwatch_submissions"} <= names


def test_families_by_path() -> None:
    assert family_of("/api/4/cpu") == "glances"
    assert family_of("/api/external/submit_stats") == "submit_stats"
    assert family_of("/api/command/PROCESS_HOST_CHECK_RESULT") == "check_result"
    assert family_of("/metrics") == "metrics"
    assert family_of("/") == "other"


async def test_gzip_when_the_scraper_accepts_it(hub: Hub) -> None:
    headers = {**hub.reader, "accept-encoding": "gzip"}  # type: ignore[attr-defined]
    async with client_for(hub) as c:
        answer = await c.get("/metrics", headers=headers)
    assert answer.headers["content-encoding"] == "gzip"
    assert "fleetwatch_system_up" in answer.text  # httpx inflated it


async def test_a_snapshot_taken_by_another_hub_is_read_from_the_store(hub: Hub) -> None:
    # Another hub on the same database: its submission reaches the store, not this hub's
    # memory; last_seen moving past what is held makes the rendering read the snapshot.
    nas = await hub.store.get_system("nas1")
    assert nas is not None
    stats = {"cpu": {"total": 25.0}, "system": {"hostname": "TESTHOST"}}
    await hub.store.add_snapshot(nas.id, 4e9, stats, stats, "push")
    await hub.store.touch_system(nas.id, 4e9, "TESTHOST")
    assert hub.metrics is not None
    await hub.metrics.rebuild()
    text = await scrape(hub)
    assert value(text, "fleetwatch_cpu_usage_ratio", system="nas1") == pytest.approx(0.25)


FULL_STATS = {
    "cpu": {"total": 12.5, "user": 10.0, "system": 2.5, "idle": 87.5, "cpucore": 4},
    "load": {"min1": 0.5, "min5": 0.25, "min15": 0.125},
    "memswap": {"total": 1024, "used": 256, "free": 768, "percent": 25.0},
    "fs": [{"mnt_point": "/", "fs_type": "ext4", "device_name": "/dev/vda", "size": 10,
            "used": 4, "free": 6},
           {"mnt_point": "/", "fs_type": "ext4", "device_name": "/dev/vda", "size": 99}],
    "network": [{"interface_name": "eth0", "bytes_recv_rate_per_sec": 100.0,
                 "bytes_sent_rate_per_sec": 50.0, "bytes_recv_gauge": 1000,
                 "bytes_sent_gauge": 500}],
    "sensors": [{"label": "Package id 0", "unit": "C", "value": 45.0, "type": "temperature_core"},
                {"label": "fan1", "unit": "R", "value": 1200, "type": "fan_speed"}],
    "gpu": [{"gpu_id": "nvidia0", "name": "H200", "proc": 75.0, "mem": 50.0,
             "temperature": 60}],
}  # fmt: skip


class _One:
    def __init__(self, view: SystemView) -> None:
        self.view = view

    def collect(self) -> Iterator[Metric]:
        out = Families()
        system_families(out, self.view)
        yield from out


def test_every_family_of_a_full_snapshot() -> None:
    text = generate_latest(_One(SystemView("gpu1", "gpu1.lan", True, 1.8e9, FULL_STATS))).decode()
    base = {"system": "gpu1", "hostname": "gpu1.lan"}
    assert value(text, "fleetwatch_load15", **base) == 0.125
    assert value(text, "fleetwatch_cpu_cores", **base) == 4
    assert value(text, "fleetwatch_swap_usage_ratio", **base) == 0.25
    assert value(text, "fleetwatch_filesystem_size_bytes", mountpoint="/", **base) == 10  # first
    nic = {**base, "interface": "eth0"}
    assert value(text, "fleetwatch_network_receive_bytes_per_second", **nic) == 100.0
    assert value(text, "fleetwatch_network_transmit_bytes_total", **nic) == 500
    assert value(text, "fleetwatch_temperature_celsius", sensor="Package id 0", **base) == 45.0
    assert "fan1" not in text  # a fan is not a temperature
    gpu = {**base, "gpu": "nvidia0", "model": "H200"}
    assert value(text, "fleetwatch_gpu_usage_ratio", **gpu) == 0.75
    assert value(text, "fleetwatch_gpu_memory_usage_ratio", **gpu) == 0.5
    assert value(text, "fleetwatch_gpu_temperature_celsius", **gpu) == 60
    if PROMTOOL is not None:
        checked = subprocess.run([PROMTOOL, "check", "metrics"], input=text, text=True,
                                 capture_output=True, timeout=60, check=False)  # fmt: skip
        assert checked.returncode == 0, checked.stdout + checked.stderr
