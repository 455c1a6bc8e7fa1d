"""A ``submit_stats`` document in the Glances shape, so pushed and local systems share one view.

Each Glances plugin is derived from the fields that feed it: cpu and percpu from the per-CPU
array, mem from the memory kinds, fs from storage, network and diskio with per-second rates in
bytes, sensors from the CPU temperatures. Plugins whose inputs are absent are left out.
"""

from __future__ import annotations

from typing import Any

from fleetwatch.collect.scalars import format_uptime

# Memory that programs can get without swapping: FreeBSD's free, inactive, laundry and cache.
AVAILABLE_KINDS = ("free", "inactive", "laundry", "cache", "cached", "buffers")
KIB = 1024.0


def memory_bytes(memory: dict[str, Any]) -> dict[str, float]:
    """Bytes per memory kind; ``<kind>-bytes`` wins over ``<kind>-pages`` of the same kind."""
    page = float(memory.get("bytes-per-page") or 0)
    out: dict[str, float] = {}
    for name, value in memory.items():
        if name.endswith("-pages") and page:
            out.setdefault(name[: -len("-pages")], float(value) * page)
    for name, value in memory.items():
        if name.endswith("-bytes"):
            out[name[: -len("-bytes")]] = float(value)
    return out


def _cpu(cpus: list[dict[str, Any]]) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    percpu: list[dict[str, Any]] = []
    users = systems = idles = 0.0
    for n, c in enumerate(cpus):
        user, system, idle = float(c["user"]), float(c["system"]), float(c["idle"])
        users += user
        systems += system
        idles += idle
        percpu.append(
            {
                "key": "cpu_number",
                "cpu_number": n,
                "user": user,
                "system": system,
                "idle": idle,
                "total": round(100.0 - idle, 1),
            }
        )
    count = len(percpu) or 1
    idle = round(idles / count, 1)
    cpu = {
        "total": round(100.0 - idle, 1),
        "user": round(users / count, 1),
        "system": round(systems / count, 1),
        "idle": idle,
        "cpucore": len(percpu),
    }
    return cpu, percpu


def _mem(memory: dict[str, Any]) -> dict[str, Any]:
    kinds = memory_bytes(memory)
    # Explicit totals win: on Linux the kinds overlap (cached is part of inactive), so
    # ``fleetwatch push`` sends total-bytes and available-bytes rather than letting us sum.
    total = kinds.pop("total", None)
    available = kinds.pop("available", None)
    if total is None:
        total = sum(kinds.values())
    if available is None:
        available = sum(kinds.get(k, 0.0) for k in AVAILABLE_KINDS)
    mem: dict[str, Any] = {k: int(v) for k, v in kinds.items()}
    mem.update(
        {
            "total": int(total),
            "available": int(available),
            "free": int(available),
            "used": int(total - available),
            "percent": round(100.0 * (total - available) / total, 1) if total else 0.0,
        }
    )
    if "cache-hit-percent" in memory:
        mem["cache_hit_percent"] = float(memory["cache-hit-percent"])
    return mem


def _fs(storage: dict[str, Any]) -> list[dict[str, Any]]:
    size = float(storage.get("total-bytes") or 0)
    used = float(storage.get("used-bytes") or 0)
    return [
        {
            "key": "mnt_point",
            "mnt_point": "/",
            "device_name": "storage",
            "fs_type": "",
            "size": int(size),
            "used": int(used),
            "free": int(max(size - used, 0)),
            "percent": round(100.0 * used / size, 1) if size else 0.0,
        }
    ]


def _network(items: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for item in items:
        rx = float(item.get("KB/s in") or 0) * KIB
        tx = float(item.get("KB/s out") or 0) * KIB
        extra = {k: v for k, v in item.items() if k not in {"name", "KB/s in", "KB/s out"}}
        out.append(
            {
                **extra,
                "key": "interface_name",
                "interface_name": item["name"],
                "bytes_recv_rate_per_sec": rx,
                "bytes_sent_rate_per_sec": tx,
                "bytes_all_rate_per_sec": rx + tx,
            }
        )
    return out


def _diskio(disks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for disk in disks:
        extra = {k: v for k, v in disk.items() if k != "Name"}
        read = float(disk.get("KBps read") or 0) * KIB
        write = float(disk.get("KBps write") or 0) * KIB
        out.append(
            {
                **extra,
                "key": "disk_name",
                "disk_name": disk["Name"],
                "read_bytes_rate_per_sec": read,
                "write_bytes_rate_per_sec": write,
            }
        )
    return out


def _sensors(temperatures: list[float]) -> list[dict[str, Any]]:
    return [
        {
            "key": "label",
            "label": f"CPU {n}",
            "unit": "C",
            "value": float(t),
            "type": "temperature_core",
            "warning": None,
            "critical": None,
        }
        for n, t in enumerate(temperatures)
    ]


def normalise(doc: dict[str, Any]) -> dict[str, Any]:
    """The Glances-shaped stats of a validated document."""
    stats: dict[str, Any] = {}
    system: dict[str, Any] = {"hostname": doc["hostname"]}
    if "version" in doc:
        system["os_version"] = doc["version"]
    if "model" in doc:
        system["hr_name"] = doc["model"]
    if "timezone" in doc:
        system["timezone"] = doc["timezone"]
    stats["system"] = system
    if doc.get("cpu"):
        stats["cpu"], stats["percpu"] = _cpu(doc["cpu"])
        stats["core"] = {"log": stats["cpu"]["cpucore"]}
    if isinstance(doc.get("memory"), dict):
        stats["mem"] = _mem(doc["memory"])
    if isinstance(doc.get("fs"), list):  # per mount, from `fleetwatch push`
        stats["fs"] = [{**f, "key": "mnt_point"} for f in doc["fs"] if isinstance(f, dict)]
    elif isinstance(doc.get("storage"), dict):
        stats["fs"] = _fs(doc["storage"])
    if isinstance(doc.get("network"), list):
        stats["network"] = _network(doc["network"])
    if isinstance(doc.get("disk"), list):
        stats["diskio"] = _diskio(doc["disk"])
    if isinstance(doc.get("cpu_temperatures"), list):
        stats["sensors"] = _sensors(doc["cpu_temperatures"])
    if isinstance(doc.get("uptime_seconds"), int | float):
        stats["uptime"] = format_uptime(float(doc["uptime_seconds"]))
    for extra in ("load", "processcount", "memswap"):  # sent by `fleetwatch push` as extras
        if isinstance(doc.get(extra), dict):
            stats[extra] = doc[extra]
    quick: dict[str, Any] = {}
    if "cpu" in stats:
        quick["cpu"] = stats["cpu"]["total"]
    if "mem" in stats:
        quick["mem"] = stats["mem"]["percent"]
    if "model" in doc:
        quick["cpu_name"] = doc["model"]
    if quick:
        stats["quicklook"] = quick
    return stats
