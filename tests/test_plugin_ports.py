"""``ports``: TCP checks against real listeners on 127.0.0.1; ICMP through the unprivileged
ping socket, which this machine allows or not (``net.ipv4.ping_group_range``)."""

from __future__ import annotations

import os
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from fleetwatch.collect.base import CollectContext
from fleetwatch.collect.ports import PortsCollector, icmp_check, tcp_check
from fleetwatch.model.limits import Limits, apply_overrides, default_limits


@pytest.fixture
def listener() -> Iterator[int]:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        yield server.getsockname()[1]


def closed_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
    return port


def limits_with(values: dict[str, Any]) -> dict[str, Limits]:
    limits = default_limits(["ports"], 1200)
    apply_overrides(limits, "ports", values)
    return limits


def now_runner(work: Callable[[], None]) -> None:
    work()  # run the check in this thread: the next collect sees its result


def test_open_and_closed_tcp_ports(listener: int) -> None:
    closed = closed_port()
    limits = limits_with(
        {
            "web_host": "127.0.0.1", "web_port": listener, "web_description": "Web",
            "web_rtt_warning": 500, "web_timeout": 1,
            "dead_host": "127.0.0.1", "dead_port": closed,
        }
    )  # fmt: skip
    collector = PortsCollector(start=now_runner)

    collector.collect(CollectContext(now=1000.0, limits=limits))
    web, dead = collector.collect(CollectContext(now=1001.0, limits=limits))

    assert web["indice"] == "web"
    assert (web["host"], web["port"], web["description"]) == ("127.0.0.1", listener, "Web")
    assert (web["timeout"], web["refresh"], web["rtt_warning"]) == (1.0, 30.0, 0.5)
    assert isinstance(web["status"], float)
    assert 0.0 <= web["status"] < 1.0
    assert dead["status"] is False
    assert dead["description"] == f"127.0.0.1:{closed}"
    assert dead["timeout"] == 3.0  # ports_timeout


def test_checks_run_in_the_background_and_respect_refresh(listener: int) -> None:
    limits = limits_with({"web_host": "127.0.0.1", "web_port": listener, "web_refresh": 10})
    calls: list[tuple[str, int]] = []
    release = threading.Event()

    def check(host: str, port: int, timeout: float) -> float | bool:
        calls.append((host, port))
        release.wait(5)  # a slow host: the round must not wait for it
        return tcp_check(host, port, timeout)

    collector = PortsCollector(check=check)
    (first,) = collector.collect(CollectContext(now=1000.0, limits=limits))
    assert first["status"] is None  # not checked yet: the round did not wait
    release.set()
    deadline = time.monotonic() + 5
    status = None
    while status is None and time.monotonic() < deadline:
        (item,) = collector.collect(CollectContext(now=1001.0, limits=limits))
        status = item["status"]
    assert isinstance(status, float)
    collector.collect(CollectContext(now=1009.0, limits=limits))
    assert len(calls) == 1  # refresh is 10 s
    collector.collect(CollectContext(now=1010.5, limits=limits))
    deadline = time.monotonic() + 5
    while len(calls) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    assert len(calls) == 2


def test_default_gateway_probe_is_off_and_nothing_configured_is_empty() -> None:
    limits = default_limits(["ports"], 1200)

    assert limits["ports"]["ports_port_default_gateway"] == ["False"]
    assert PortsCollector().collect(CollectContext(now=1000.0, limits=limits)) == []


def ping_allowed() -> bool:
    low, high = (int(x) for x in Path("/proc/sys/net/ipv4/ping_group_range").read_text().split())
    return any(low <= gid <= high for gid in {os.getgid(), *os.getgroups()})


def test_icmp_without_raw_socket() -> None:
    if not Path("/proc/sys/net/ipv4/ping_group_range").exists():
        pytest.skip("no Linux ping sockets here")
    result = icmp_check("127.0.0.1", 0, 1.0)
    if ping_allowed():
        assert isinstance(result, float)
    else:
        # This machine's ping_group_range excludes our groups (the kernel default "1 0"):
        # ICMP cannot be done unprivileged, and the entry answers False.
        assert result is False
