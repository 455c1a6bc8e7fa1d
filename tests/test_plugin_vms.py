"""``vms``: neither ``virsh`` nor ``multipass`` is installed here, so the live plugin answers
Glances' ``{}`` without running anything; the parsers run on answers recorded in the format
of libvirt 10 (``virsh domstats --raw``) and Multipass 1.14 (``info --format json``)."""

from __future__ import annotations

import json
import shutil
import time

from fleetwatch.collect.base import CollectContext
from fleetwatch.collect.vms import VmsCollector, parse_domstats, parse_multipass
from fleetwatch.model.limits import default_limits

DOMSTATS = """\
Domain: 'win11'
  state.state=1
  state.reason=1
  cpu.time=1288740000000
  cpu.user=1000000000
  cpu.system=200000000
  balloon.current=8388608
  balloon.maximum=8388608
  balloon.rss=6291456
  vcpu.current=4
  vcpu.maximum=4

Domain: 'builder'
  state.state=3
  state.reason=1
  vcpu.current=2
"""
MULTIPASS = json.dumps(
    {
        "errors": [],
        "info": {
            "primary": {
                "cpu_count": "2",
                "disks": {"sda1": {"total": "5120710656", "used": "2035490816"}},
                "image_release": "24.04 LTS",
                "ipv4": ["10.3.166.12"],
                "load": [0.05, 0.1, 0.02],
                "memory": {"total": 1003941888, "used": 240615424},
                "release": "Ubuntu 24.04.1 LTS",
                "state": "Running",
            }
        },
    }
)


def ctx() -> CollectContext:
    return CollectContext(now=time.time(), limits=default_limits(["vms"], 1200))


def test_virsh_domstats() -> None:
    win, builder = parse_domstats(DOMSTATS)

    assert (win["name"], win["status"], win["engine"]) == ("win11", "running", "libvirt")
    assert (win["cpu_count"], win["cpu_time"]) == (4, 1288740000000)
    assert (win["memory_usage"], win["memory_total"]) == (6291456 * 1024, 8388608 * 1024)
    assert (builder["status"], builder["memory_total"]) == ("paused", None)


def test_multipass_info() -> None:
    (vm,) = parse_multipass(MULTIPASS)

    assert vm == {
        "key": "name", "name": "primary", "id": "primary", "release": "Ubuntu 24.04.1 LTS",
        "status": "running", "cpu_count": 2, "cpu_time": None, "memory_usage": 240615424,
        "memory_total": 1003941888, "load_1min": 0.05, "load_5min": 0.1, "load_15min": 0.02,
        "ipv4": "10.3.166.12", "engine": "multipass", "engine_version": None,
    }  # fmt: skip


def test_engines_present_list_their_vms() -> None:
    answers = {"virsh": DOMSTATS, "multipass": MULTIPASS}

    vms = VmsCollector(run=lambda tool, args: answers[tool]).collect(ctx())

    assert isinstance(vms, list)
    assert [vm["name"] for vm in vms] == ["win11", "builder", "primary"]


def test_engine_present_without_vms_is_an_empty_list() -> None:
    answers: dict[str, str | None] = {"virsh": "", "multipass": None}

    assert VmsCollector(run=lambda tool, args: answers[tool]).collect(ctx()) == []


def test_live_machine() -> None:
    result = VmsCollector().collect(ctx())
    if shutil.which("virsh") is None and shutil.which("multipass") is None:
        # No VM engine installed here: nothing is run, Glances' {}.
        assert result == {}
    else:
        assert isinstance(result, list)
