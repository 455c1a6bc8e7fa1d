"""``smart``: disk health attributes through ``smartctl --json`` (smartmontools >= 7).

``{}`` where ``smartctl`` is not installed, or may not open the disks (it needs root or the
``disk`` group). The argument lists are fixed here; nothing from the config is run.
Per device: ``DeviceName`` (device and model), then one entry per ATA attribute id (or per
NVMe health-log field) with ``name``, ``value``, ``worst``, ``thresh`` and ``raw``.
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

SPEC = PluginSpec(name="smart", shape="dict", refresh_limit="smart_refresh")

TIMEOUT_SECONDS = 10.0
Run = Callable[[list[str]], dict[str, Any] | None]


def run_smartctl(args: list[str]) -> dict[str, Any] | None:
    """``smartctl --json <args>``; None when it is missing or answers no JSON."""
    binary = shutil.which("smartctl")
    if binary is None:
        return None
    try:
        done = subprocess.run(  # noqa: S603 - fixed argument list, no shell
            [binary, "--json", *args],
            capture_output=True,
            timeout=TIMEOUT_SECONDS,
            check=False,
        )
        loaded = json.loads(done.stdout)
    except (OSError, subprocess.TimeoutExpired, ValueError) as exc:
        log.debug("smartctl %s failed: %s", args, exc)
        return None
    return loaded if isinstance(loaded, dict) else None


def _attributes(report: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for row in report.get("ata_smart_attributes", {}).get("table", []):
        raw = row.get("raw", {})
        out[str(row.get("id"))] = {
            "name": row.get("name"),
            "value": row.get("value"),
            "worst": row.get("worst"),
            "thresh": row.get("thresh"),
            "raw": raw.get("string", raw.get("value")),
        }
    for name, value in report.get("nvme_smart_health_information_log", {}).items():
        if isinstance(value, int | float):
            out[name] = {"name": name, "value": value, "worst": None, "thresh": None,
                         "raw": str(value)}  # fmt: skip
    return out


def device_stats(report: dict[str, Any]) -> dict[str, Any] | None:
    """One device's entry, or None when smartctl could not read it (no permission...)."""
    device = report.get("device", {}).get("name")
    if not device or report.get("smartctl", {}).get("exit_status", 0) & 0b11:
        return None  # bit 0: bad command line, bit 1: device open failed
    name = str(device).removeprefix("/dev/")
    model = report.get("model_name") or report.get("model_family") or ""
    stats: dict[str, Any] = {"DeviceName": f"{name} {model}".strip()}
    stats.update(_attributes(report))
    return stats


class SmartCollector:
    spec = SPEC

    def __init__(self, run: Run = run_smartctl) -> None:
        self._run = run

    def collect(self, ctx: CollectContext) -> dict[str, Any]:
        scan = self._run(["--scan"])
        if scan is None:
            return {}
        out: dict[str, Any] = {}
        for dev in scan.get("devices", []):
            path = dev.get("name")
            if not isinstance(path, str):
                continue
            report = self._run(["--info", "--attributes", "-d", str(dev.get("type", "auto")),
                                path])  # fmt: skip
            stats = device_stats(report) if report is not None else None
            if stats is not None:
                out[path.removeprefix("/dev/")] = stats
        return out
