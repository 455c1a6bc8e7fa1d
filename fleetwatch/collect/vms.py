"""``vms``: virtual machines of libvirt (``virsh``) and Multipass, where they are installed.

``{}``, as in Glances, where neither ``virsh`` nor ``multipass`` is on the PATH. Otherwise it
runs, with fixed arguments and a 5-second timeout, ``virsh --readonly domstats --raw
--list-active --state --vcpu --balloon --cpu-total`` and ``multipass info --format json``,
and lists every VM with Glances' fields. Nothing from the config is ever run.
"""

from __future__ import annotations

import json
import logging
import shutil
import subprocess
from collections.abc import Callable
from typing import Any

from fleetwatch.collect.base import CollectContext
from fleetwatch.model.plugin import PluginSpec

log = logging.getLogger(__name__)

# The reference answers {} without VMs; with VMs the value is a list keyed by name.
SPEC = PluginSpec(name="vms", shape="dict", key="name", refresh_limit="vms_refresh")

TIMEOUT_SECONDS = 5.0
VIRSH_ARGS = ["--readonly", "domstats", "--raw", "--list-active", "--state", "--vcpu",
              "--balloon", "--cpu-total"]  # fmt: skip
MULTIPASS_ARGS = ["info", "--format", "json"]
Run = Callable[[str, list[str]], str | None]
VIRSH_STATES = {"0": "no state", "1": "running", "2": "blocked", "3": "paused",
                "4": "shutdown", "5": "shutoff", "6": "crashed", "7": "suspended"}  # fmt: skip


def run_tool(name: str, args: list[str]) -> str | None:
    """The standard output of a fixed tool invocation; None where the tool is missing."""
    binary = shutil.which(name)
    if binary is None:
        return None
    try:
        done = subprocess.run(  # noqa: S603 - fixed argument list, no shell
            [binary, *args], capture_output=True, timeout=TIMEOUT_SECONDS, check=True, text=True
        )
    except (OSError, subprocess.SubprocessError) as exc:
        log.debug("vms: %s %s failed: %s", name, args, exc)
        return None
    return done.stdout


def parse_domstats(text: str) -> list[dict[str, Any]]:
    domains: list[dict[str, str]] = []
    for raw in text.splitlines():
        line = raw.strip()
        if line.startswith("Domain:"):
            domains.append({"name": line.split(":", 1)[1].strip().strip("'")})
        elif "=" in line and domains:
            key, _, value = line.partition("=")
            domains[-1][key] = value
    return [
        {
            "key": "name",
            "name": d["name"],
            "id": d["name"],
            "release": None,
            "status": VIRSH_STATES.get(d.get("state.state", ""), d.get("state.state")),
            "cpu_count": int(d["vcpu.current"]) if "vcpu.current" in d else None,
            "cpu_time": int(d["cpu.time"]) if "cpu.time" in d else None,
            "memory_usage": 1024 * int(d["balloon.rss"]) if "balloon.rss" in d else None,
            "memory_total": 1024 * int(d["balloon.maximum"]) if "balloon.maximum" in d else None,
            "load_1min": None,
            "load_5min": None,
            "load_15min": None,
            "ipv4": None,
            "engine": "libvirt",
            "engine_version": None,
        }
        for d in domains
    ]


def parse_multipass(text: str) -> list[dict[str, Any]]:
    info = json.loads(text).get("info", {})
    out: list[dict[str, Any]] = []
    for name, vm in info.items():
        load = vm.get("load") or [None, None, None]
        memory = vm.get("memory") or {}
        out.append(
            {
                "key": "name",
                "name": name,
                "id": name,
                "release": vm.get("release"),
                "status": str(vm.get("state", "")).lower() or None,
                "cpu_count": int(vm["cpu_count"]) if vm.get("cpu_count") else None,
                "cpu_time": None,
                "memory_usage": memory.get("used"),
                "memory_total": memory.get("total"),
                "load_1min": load[0],
                "load_5min": load[1],
                "load_15min": load[2],
                "ipv4": (vm.get("ipv4") or [None])[0],
                "engine": "multipass",
                "engine_version": None,
            }
        )
    return out


class VmsCollector:
    spec = SPEC

    def __init__(self, run: Run = run_tool) -> None:
        self._run = run

    def collect(self, ctx: CollectContext) -> list[dict[str, Any]] | dict[str, Any]:
        vms: list[dict[str, Any]] = []
        found = False
        if (text := self._run("virsh", VIRSH_ARGS)) is not None:
            found = True
            vms += parse_domstats(text)
        if (text := self._run("multipass", MULTIPASS_ARGS)) is not None:
            found = True
            try:
                vms += parse_multipass(text)
            except (ValueError, AttributeError) as exc:
                log.debug("vms: unreadable multipass answer: %s", exc)
        return vms if found else {}
