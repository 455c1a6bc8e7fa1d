"""Which values the alert engine watches, read out of a Glances-shaped stats dict.

The same stats shape comes from the local collector and from a pushed system's normalised
snapshot, so one set of watches serves every system.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from fleetwatch.model.limits import Limits, is_true
from fleetwatch.model.views import Levels, level_at, levels_of


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


class Judge:
    """The watches of one set of limits, their switches and thresholds resolved once: a hub
    judges every snapshot of every system against the same limits, thousands a second."""

    def __init__(self, limits: dict[str, Limits]) -> None:
        self.limits = limits
        self.watches = [
            (w, levels_of(limits.get(w.plugin, {}), w.plugin, w.stat))
            for w in WATCHES
            if _logged(limits, w)
        ]
        fs_limits = limits.get("fs", {})
        self.fs_limits = fs_limits
        self.fs_logged = fs_limits.get("fs_log") is None or is_true(fs_limits.get("fs_log"))
        self.fs_levels: dict[str, Levels] = {}  # per mount point: fs_<mount>_<level> may differ

    def readings(self, stats: dict[str, Any]) -> list[Reading]:
        """Every watched value present in ``stats``, with its level (OK, CAREFUL, WARNING...)."""
        out: list[Reading] = []
        for watch, levels in self.watches:
            section = stats.get(watch.plugin)
            if section.__class__ is not dict:
                continue
            value = section.get(watch.field)
            if (  # exact float or int first: the usual case, and the cheapest test
                value.__class__ is not float
                and value.__class__ is not int
                and (not isinstance(value, int | float) or isinstance(value, bool))
            ):
                continue
            maximum = 100.0
            if watch.plugin == "load":
                maximum = 100.0 * float(section.get("cpucore") or 1)
            value = float(value)
            level = level_at(value * 100.0 / maximum, levels)
            out.append(Reading(watch.type, value, level, watch.sort, watch.desc))
        items = stats.get("fs")
        if self.fs_logged and isinstance(items, list):
            out.extend(self._fs_readings(items))
        return out

    def _fs_readings(self, items: list[Any]) -> Iterator[Reading]:
        for item in items:
            if not isinstance(item, dict) or not item.get("size"):
                continue
            mount = str(item.get("mnt_point"))
            levels = self.fs_levels.get(mount)
            if levels is None and mount not in self.fs_levels:
                levels = self.fs_levels[mount] = levels_of(self.fs_limits, "fs", "fs", mount)
            used, size = float(item.get("used") or 0), float(item["size"])
            level = level_at(used * 100.0 / size, levels)
            percent = round(100.0 * used / size, 1)
            yield Reading(f"FS_{mount}", percent, level, FS_SORT, f"File system {mount} usage")


_judges: dict[int, Judge] = {}


def judge_for(limits: dict[str, Limits]) -> Judge:
    """The judge of ``limits``, made on first use (limits are built once and never changed)."""
    judge = _judges.get(id(limits))
    if judge is None or judge.limits is not limits:
        if len(_judges) >= 64:  # each hub has one set; tests build many hubs
            _judges.clear()
        judge = _judges[id(limits)] = Judge(limits)
    return judge


def readings(stats: dict[str, Any], limits: dict[str, Limits]) -> list[Reading]:
    """Every watched value present in ``stats``, with its level (OK, CAREFUL, WARNING...)."""
    return judge_for(limits).readings(stats)
