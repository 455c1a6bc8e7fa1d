"""Which values the alert engine watches, read out of a Glances-shaped stats dict.

The same stats shape comes from the local collector and from a pushed system's normalised
snapshot, so one set of watches serves every system.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fleetwatch.model.limits import Limits, is_true
from fleetwatch.model.views import decoration


@dataclass(frozen=True, slots=True)
class Watch:
    """One watched value: where it is, which limits judge it, and how events about it read."""

    type: str
    plugin: str
    field: str
    stat: str
    sort: str
    desc: str
    logged_by_default: bool = True


WATCHES: tuple[Watch, ...] = (
    Watch("CPU_TOTAL", "cpu", "total", "cpu_total", "cpu_percent", "CPU total usage"),
    Watch("CPU_USER", "cpu", "user", "cpu_user", "cpu_percent", "CPU user usage"),
    Watch("CPU_SYSTEM", "cpu", "system", "cpu_system", "cpu_percent", "CPU system usage"),
    Watch("CPU_IOWAIT", "cpu", "iowait", "cpu_iowait", "io_counters", "CPU waiting for I/O", False),
    Watch("CPU_STEAL", "cpu", "steal", "cpu_steal", "cpu_percent", "CPU stolen by the host", False),
    Watch("MEM", "mem", "percent", "mem", "memory_percent", "Memory usage"),
    Watch("MEMSWAP", "memswap", "percent", "memswap", "memory_percent", "Swap usage"),
    Watch("LOAD", "load", "min15", "load", "cpu_percent", "Load average (15 min) per core"),
)
FS_SORT = "io_counters"


@dataclass(frozen=True, slots=True)
class Reading:
    """A watched value as of one collection, and the level its limits give it."""

    type: str
    value: float
    level: str
    sort: str
    desc: str


def _logged(limits: dict[str, Limits], watch: Watch) -> bool:
    plugin_limits = limits.get(watch.plugin, {})
    switch = plugin_limits.get(f"{watch.stat}_log", plugin_limits.get(f"{watch.plugin}_log"))
    if switch is None:
        return watch.logged_by_default
    return is_true(switch)


def readings(stats: dict[str, Any], limits: dict[str, Limits]) -> Iterator[Reading]:
    """Every watched value present in ``stats``, with its level (OK, CAREFUL, WARNING...)."""
    for watch in WATCHES:
        section = stats.get(watch.plugin)
        if not isinstance(section, dict) or not _logged(limits, watch):
            continue
        value = section.get(watch.field)
        if not isinstance(value, int | float) or isinstance(value, bool):
            continue
        maximum = 100.0
        if watch.plugin == "load":
            maximum = 100.0 * float(section.get("cpucore") or 1)
        level = decoration(
            float(value), maximum, limits.get(watch.plugin, {}), watch.plugin, watch.stat
        )
        yield Reading(watch.type, float(value), level, watch.sort, watch.desc)
    yield from _fs_readings(stats.get("fs"), limits.get("fs", {}))


def _fs_readings(items: Any, limits: Limits) -> Iterator[Reading]:
    if not isinstance(items, list) or (
        limits.get("fs_log") is not None and not is_true(limits.get("fs_log"))
    ):
        return
    for item in items:
        if not isinstance(item, dict) or not item.get("size"):
            continue
        mount = str(item.get("mnt_point"))
        used, size = float(item.get("used") or 0), float(item["size"])
        level = decoration(used, size, limits, "fs", "fs", mount)
        percent = round(100.0 * used / size, 1)
        yield Reading(f"FS_{mount}", percent, level, FS_SORT, f"File system {mount} usage")
