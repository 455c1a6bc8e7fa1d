"""``percpu``: the same percentages for each logical CPU."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psutil

from fleetwatch.collect.base import CollectContext
from fleetwatch.collect.cputimes import as_mapping, busy_total, percentages
from fleetwatch.model.plugin import PluginSpec, ViewRule

SPEC = PluginSpec(
    name="percpu",
    shape="list",
    key="cpu_number",
    history=("total", "user", "system"),
    views=(
        ViewRule("user", "percpu_user"),
        ViewRule("system", "percpu_system"),
        ViewRule("iowait", "percpu_iowait"),
    ),
)


def _percpu_times() -> list[object]:
    return list(psutil.cpu_times(percpu=True))


class PercpuCollector:
    spec = SPEC

    def __init__(self, times: Callable[[], list[object]] = _percpu_times) -> None:
        self._times = times
        self._previous = [as_mapping(t) for t in times()]

    def collect(self, ctx: CollectContext) -> list[dict[str, Any]]:
        current = [as_mapping(t) for t in self._times()]
        out: list[dict[str, Any]] = []
        for number, now in enumerate(current):
            before = self._previous[number] if number < len(self._previous) else now
            pct = percentages(before, now)
            out.append(
                {
                    "key": "cpu_number",
                    "cpu_number": number,
                    "total": busy_total(pct),
                    "user": pct.get("user", 0.0),
                    "system": pct.get("system", 0.0),
                    "idle": pct.get("idle", 0.0),
                    "nice": pct.get("nice", 0.0),
                    "iowait": pct.get("iowait", 0.0),
                    "irq": pct.get("irq", 0.0),
                    "softirq": pct.get("softirq", 0.0),
                    "steal": pct.get("steal", 0.0),
                    "guest": pct.get("guest", 0.0),
                    "guest_nice": pct.get("guest_nice", 0.0),
                    "dpc": None,
                    "interrupt": None,
                }
            )
        self._previous = current
        return out
