"""This machine's statistics as a ``submit_stats`` document, gathered by the hub's collectors.

The reference's fields come first (hostname, version, model, cpu, memory, network, storage,
disk, cpu_temperatures, uptime_seconds, timezone); load, processcount, per-mount fs and diskio
ride along as extra fields, which the hub keeps.
"""

from __future__ import annotations

import re
import time
from typing import Any

import psutil

from fleetwatch.collect.base import CollectContext, Collector
from fleetwatch.collect.diskio import DiskioCollector
from fleetwatch.collect.fs import FsCollector
from fleetwatch.collect.load import LoadCollector
from fleetwatch.collect.mem import MemCollector
from fleetwatch.collect.network import NetworkCollector
from fleetwatch.collect.percpu import PercpuCollector
from fleetwatch.collect.quicklook import read_cpu_name
from fleetwatch.collect.system import SystemCollector
from fleetwatch.model.limits import default_limits
from fleetwatch.model.rates import RateTracker

KIB = 1024.0
MEMORY_KINDS = ("active", "inactive", "free", "buffers", "cached", "shared", "wired")


class DocumentBuilder:
    """Keeps the collectors (and their baselines) between pushes, so rates are real."""

    def __init__(self) -> None:
        self._collectors: dict[str, Collector] = {
            c.spec.name: c
            for c in (
                PercpuCollector(), MemCollector(), LoadCollector(), SystemCollector(),
                FsCollector(), DiskioCollector(), NetworkCollector(),
            )
        }  # fmt: skip
        self._rates = {
            name: RateTracker(c.spec.rate_fields, c.spec.key)
            for name, c in self._collectors.items()
        }
        self._limits = default_limits(list(self._collectors), 1)
        self._model = read_cpu_name()

    def _gather(self) -> dict[str, Any]:
        now = time.time()
        ctx = CollectContext(now=now, limits=self._limits)
        for name, collector in self._collectors.items():
            stats = collector.collect(ctx)
            if isinstance(stats, list) and collector.spec.key is not None:
                hide = [
                    re.compile(p, re.I) for p in _patterns(self._limits[name].get(f"{name}_hide"))
                ]
                key = collector.spec.key
                stats = [i for i in stats if not any(p.fullmatch(str(i[key])) for p in hide)]
            ctx.results[name] = self._rates[name].apply(stats, now)
        return ctx.results

    def build(self) -> dict[str, Any]:
        stats = self._gather()
        system, mem, load = stats["system"], stats["mem"], stats["load"]
        fs = [f for f in stats["fs"] if not f["mnt_point"].startswith(("/boot", "/snap"))]
        root = next((f for f in fs if f["mnt_point"] == "/"), fs[0] if fs else None)
        doc: dict[str, Any] = {
            "hostname": system["hostname"],
            "version": system.get("hr_name", system.get("os_version", "")),
            "model": self._model,
            "timezone": time.strftime("%Z"),
            "uptime_seconds": round(time.time() - psutil.boot_time()),
            "cpu": [
                {"user": p["user"], "system": p["system"], "idle": p["idle"]}
                for p in stats["percpu"]
            ],
            "memory": {f"{k}-bytes": mem[k] for k in MEMORY_KINDS if k in mem},
            "network": [
                {"name": n["interface_name"],
                 "KB/s in": round(n.get("bytes_recv_rate_per_sec", 0) / KIB, 3),
                 "KB/s out": round(n.get("bytes_sent_rate_per_sec", 0) / KIB, 3)}
                for n in stats["network"]
            ],
            "disk": [
                {"Name": d["disk_name"],
                 "KBps read": round(d.get("read_bytes_rate_per_sec", 0) / KIB, 3),
                 "KBps write": round(d.get("write_bytes_rate_per_sec", 0) / KIB, 3)}
                for d in stats["diskio"]
            ],
            "load": {k: load[k] for k in ("min1", "min5", "min15", "cpucore")},
            "fs": [{k: f[k] for k in ("mnt_point", "device_name", "fs_type", "size", "used",
                                      "free", "percent")} for f in fs],
        }  # fmt: skip
        # The memory kinds overlap (cached is part of inactive on Linux); the hub's mem view
        # reads total and available from these extras rather than summing kinds.
        doc["memory"]["total-bytes"] = mem["total"]
        doc["memory"]["available-bytes"] = mem["available"]
        if root is not None:
            doc["storage"] = {"total-bytes": root["size"], "used-bytes": root["used"]}
        temperatures = _cpu_temperatures()
        if temperatures:
            doc["cpu_temperatures"] = temperatures
        doc["processcount"] = {"total": len(psutil.pids())}
        return doc


def _patterns(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _cpu_temperatures() -> list[float]:
    reader = getattr(psutil, "sensors_temperatures", None)
    if reader is None:
        return []
    try:
        sensors = reader()
    except (OSError, RuntimeError):
        return []
    for name in ("coretemp", "k10temp", "cpu_thermal", "zenpower"):
        if sensors.get(name):
            return [float(s.current) for s in sensors[name]]
    return []
