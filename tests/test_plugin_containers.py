"""``containers``: no Docker or Podman engine runs on this machine (no socket), so the live
plugin answers ``[]``. The collector is tested against a small fake engine: a real HTTP
server of ours on a Unix socket in tmp_path, answering the Docker Engine API endpoints
``/containers/json``, ``/containers/{id}/stats`` and ``/version`` with bodies in Docker's
documented shape (and Podman's ``/libpod/containers/json`` for the pod fields)."""

from __future__ import annotations

import http.server
import json
import socket
import socketserver
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import pytest

from fleetwatch.collect.base import CollectContext
from fleetwatch.collect.containers import ContainersCollector, Engine, default_engines
from fleetwatch.model.limits import apply_overrides, default_limits

WEB_ID = "454a8c7f059271f0e7fbb757375014115db3b6e0df2c039e66bb2647f717f67e"
DB_ID = "9b1c2f0e8a7d6c5b4a39281706f5e4d3c2b1a0f9e8d7c6b5a4938271605f4e3d"
OLD_ID = "0f0e0d0c0b0a09080706050403020100f0e0d0c0b0a090807060504030201000"


def container(cid: str, name: str, state: str, status: str) -> dict[str, Any]:
    return {
        "Id": cid,
        "Names": [f"/{name}"],
        "Image": "timescale/timescaledb-ha:pg17" if name == "db" else "nginx:1.27",
        "ImageID": "sha256:1a2b",
        "Command": "/docker-entrypoint.sh postgres" if name == "db" else "nginx -g 'daemon off;'",
        "Created": 1750606998,
        "State": state,
        "Status": status,
    }


def stats(sample: int) -> dict[str, Any]:
    """A one-shot stats answer; every counter grows between samples."""
    return {
        "read": "2025-06-30T10:00:00.000000000Z",
        "cpu_stats": {
            "cpu_usage": {"total_usage": 5_000_000_000 + sample * 500_000_000},
            "system_cpu_usage": 900_000_000_000 + sample * 4_000_000_000,
            "online_cpus": 4,
        },
        "precpu_stats": {"cpu_usage": {"total_usage": 0}},
        "memory_stats": {
            "usage": 73_662_464,
            "limit": 16_421_875_712,
            "stats": {"inactive_file": 11_075_584},
        },
        "blkio_stats": {
            "io_service_bytes_recursive": [
                {"major": 259, "minor": 0, "op": "read", "value": 142_082_048 + sample * 2_000},
                {"major": 259, "minor": 0, "op": "write", "value": sample * 1_000},
            ]
        },
        "networks": {
            "eth0": {"rx_bytes": 853_694 + sample * 1_000, "tx_bytes": 181_084},
            "eth1": {"rx_bytes": 6, "tx_bytes": 4 + sample * 250},
        },
    }


class FakeEngine(socketserver.ThreadingMixIn, socketserver.UnixStreamServer):
    daemon_threads = True

    def __init__(self, path: str, podman: bool = False) -> None:
        self.samples: dict[str, int] = {}
        self.requests: list[str] = []
        self.podman = podman
        super().__init__(path, Handler)


class Handler(http.server.BaseHTTPRequestHandler):
    server: FakeEngine

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def address_string(self) -> str:
        return "unix"

    def do_GET(self) -> None:
        url = urlsplit(self.path)
        self.server.requests.append(self.path)
        everything = "all=true" in url.query
        listing = [container(WEB_ID, "web", "running", "Up 2 hours (healthy)"),
                   container(DB_ID, "db", "running", "Up 7 days")]  # fmt: skip
        if everything:
            listing.append(container(OLD_ID, "old", "exited", "Exited (0) 3 days ago"))
        if url.path == "/version":
            self.reply({"Version": "27.3.1", "ApiVersion": "1.47", "Os": "linux"})
        elif url.path == "/containers/json":
            self.reply(listing)
        elif url.path == "/v4.0.0/libpod/containers/json" and self.server.podman:
            self.reply([{"Id": DB_ID, "Pod": "c0ffee", "PodName": "pod-db"}])
        elif url.path.startswith("/containers/") and url.path.endswith("/stats"):
            cid = url.path.split("/")[2]
            sample = self.server.samples.get(cid, 0)
            self.server.samples[cid] = sample + 1
            self.reply(stats(sample))
        else:
            self.reply({"message": "page not found"}, 404)

    def reply(self, body: Any, status: int = 200) -> None:
        data = json.dumps(body).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def serve(path: Path, podman: bool = False) -> FakeEngine:
    engine = FakeEngine(str(path), podman=podman)
    threading.Thread(target=engine.serve_forever, args=(0.05,), daemon=True).start()
    return engine


@pytest.fixture
def docker(tmp_path: Path) -> Iterator[FakeEngine]:
    engine = serve(tmp_path / "docker.sock")
    yield engine
    engine.shutdown()
    engine.server_close()


def ctx(now: float, show_all: bool = False) -> CollectContext:
    limits = default_limits(["containers"], 1200)
    if show_all:
        apply_overrides(limits, "containers", {"all": True})
    return CollectContext(now=now, limits=limits)


def collector_for(*engines: Engine) -> ContainersCollector:
    return ContainersCollector(engines=list(engines))


def test_fake_docker_engine(docker: FakeEngine, tmp_path: Path) -> None:
    collector = collector_for(Engine("docker", str(tmp_path / "docker.sock")))
    try:
        first = {c["name"]: c for c in collector.collect(ctx(1000.0))}
        second = {c["name"]: c for c in collector.collect(ctx(1002.0))}
    finally:
        collector.close()

    web = first["web"]
    assert web["id"] == WEB_ID
    assert web["image"] == ["nginx:1.27"]
    assert web["status"] == "running"
    assert web["created"] == "2025-06-22T15:43:18Z"
    assert web["command"] == "nginx -g 'daemon off;'"
    assert web["uptime"] == "2 hours"
    assert web["engine"] == "docker"
    assert (web["pod_name"], web["pod_id"]) == (None, None)
    assert web["memory"] == {"usage": 73_662_464, "limit": 16_421_875_712,
                             "inactive_file": 11_075_584}  # fmt: skip
    assert (web["memory_usage"], web["memory_limit"]) == (73_662_464, 16_421_875_712)
    assert web["io"] == {"cumulative_ior": 142_082_048, "cumulative_iow": 0}
    assert web["network"] == {"cumulative_rx": 853_700, "cumulative_tx": 181_088}
    # First sample: Glances' 0.0 CPU and no rates yet.
    assert web["cpu"] == {"total": 0.0}
    assert web["cpu_percent"] == 0.0
    assert (web["io_rx"], web["network_tx"]) == (None, None)
    assert first["db"]["uptime"] == "7 days"

    later = second["web"]
    # 0.5 s of container CPU over 4 s of all-CPU time, on 4 CPUs: 50 %.
    assert later["cpu_percent"] == pytest.approx(50.0)
    assert later["cpu"] == {"total": pytest.approx(50.0)}
    assert later["io_rx"] == pytest.approx(1_000.0)  # 2,000 bytes in 2 s
    assert later["io_wx"] == pytest.approx(500.0)
    assert later["network_rx"] == pytest.approx(4_000.0)  # 1,000 bytes in 2 s, in bits/s
    assert later["network_tx"] == pytest.approx(1_000.0)
    assert {"/containers/json", f"/containers/{WEB_ID}/stats?stream=false&one-shot=true"} <= set(
        docker.requests
    )


def test_all_switch_lists_stopped_containers_without_stats(
    docker: FakeEngine, tmp_path: Path
) -> None:
    collector = collector_for(Engine("docker", str(tmp_path / "docker.sock")))
    try:
        items = {c["name"]: c for c in collector.collect(ctx(1000.0, show_all=True))}
    finally:
        collector.close()

    assert items["old"]["status"] == "exited"
    assert items["old"]["uptime"] is None
    assert items["old"]["cpu_percent"] is None
    assert items["old"]["memory"] == {}
    assert not any(OLD_ID in r for r in docker.requests if r.endswith("one-shot=true"))


def test_podman_adds_the_pod(tmp_path: Path) -> None:
    engine = serve(tmp_path / "podman.sock", podman=True)
    collector = collector_for(Engine("podman", str(tmp_path / "podman.sock")))
    try:
        items = {c["name"]: c for c in collector.collect(ctx(1000.0))}
    finally:
        collector.close()
        engine.shutdown()
        engine.server_close()

    assert items["db"]["engine"] == "podman"
    assert (items["db"]["pod_name"], items["db"]["pod_id"]) == ("pod-db", "c0ffee")
    assert items["web"]["pod_name"] is None


def test_sockets_that_do_not_answer_give_empty(tmp_path: Path) -> None:
    plain = tmp_path / "plain.sock"
    plain.touch()  # a file, not a socket
    stale = tmp_path / "stale.sock"  # a socket file nobody listens on (an engine stopped)
    with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
        s.bind(str(stale))
    missing = tmp_path / "missing.sock"
    collector = collector_for(*(Engine("docker", str(p)) for p in (plain, stale, missing)))
    try:
        assert collector.collect(ctx(1000.0)) == []
    finally:
        collector.close()


def test_live_machine() -> None:
    engines = default_engines()
    collector = ContainersCollector()
    try:
        items = collector.collect(ctx(time.time()))
    finally:
        collector.close()
    if not any(Path(e.socket).exists() for e in engines):
        # No Docker or Podman socket on this machine: no engine answers, Glances' [].
        assert items == []
    else:
        assert isinstance(items, list)
