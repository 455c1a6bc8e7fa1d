"""``cpu``: whole-machine CPU percentages and scheduler counters."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psutil

from fleetwatch.collect.base import CollectContext
from fleetwatch.collect.cputimes import as_mapping, busy_total, percentages
from fleetwatch.model.plugin import PluginSpec, ViewRule

SPEC = PluginSpec(
    name="cpu",
    shape="dict",
    history=("total", "user", "system"),
    views=(
        ViewRule("total", "cpu_total"),
        ViewRule("user", "cpu_user"),
        ViewRule("system", "cpu_system"),
        ViewRule("iowait", "cpu_iowait"),
        ViewRule("steal", "cpu_steal"),
        ViewRule(
            "ctx_switches", "cpu_ctx_switches", value=lambda s: s.get("ctx_switches_rate_per_sec")
        ),
    ),
)


class CpuCollector:
    spec = SPEC

    def __init__(
        self,
        times: Callable[[], object] = psutil.cpu_times,
        stats: Callable[[], object] = psutil.cpu_stats,
        count: Callable[[], int | None] = psutil.cpu_count,
    ) -> None:
        self._times = times
        self._stats = stats
        self._count = count
        self._previous = as_mapping(times())

    def collect(self, ctx: CollectContext) -> dict[str, Any]:
        current = as_mapping(self._times())
        pct = percentages(self._previous, current)
        self._previous = current
        counters = self._stats()
        return {
            "total": busy_total(pct),
            "user": pct.get("user", 0.0),
            "nice": pct.get("nice", 0.0),
            "system": pct.get("system", 0.0),
            "idle": pct.get("idle", 0.0),
            "iowait": pct.get("iowait", 0.0),
            "irq": round(pct.get("irq", 0.0) + pct.get("softirq", 0.0), 1),
            "steal": pct.get("steal", 0.0),
            "guest": pct.get("guest", 0.0),
            "ctx_switches": int(getattr(counters, "ctx_switches", 0)),
            "interrupts": int(getattr(counters, "interrupts", 0)),
            "soft_interrupts": int(getattr(counters, "soft_interrupts", 0)),
            "syscalls": int(getattr(counters, "syscalls", 0)),
            "cpucore": self._count() or 1,
        }
