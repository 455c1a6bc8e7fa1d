"""``load``: the run-queue averages, judged against the number of cores like Glances."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import psutil

from fleetwatch.collect.base import CollectContext
from fleetwatch.model.plugin import PluginSpec, ViewRule


def _per_core(stats: dict[str, Any]) -> float:
    return 100.0 * float(stats.get("cpucore") or 1)


SPEC = PluginSpec(
    name="load",
    shape="dict",
    history=("min1", "min5", "min15"),
    views=(
        ViewRule("min1", "load", maximum=_per_core),
        ViewRule("min5", "load", maximum=_per_core),
        ViewRule("min15", "load", maximum=_per_core),
    ),
)


class LoadCollector:
    spec = SPEC

    def __init__(
        self,
        loadavg: Callable[[], tuple[float, float, float]] = os.getloadavg,
        count: Callable[[], int | None] = psutil.cpu_count,
    ) -> None:
        self._loadavg = loadavg
        self._count = count

    def collect(self, ctx: CollectContext) -> dict[str, Any]:
        min1, min5, min15 = self._loadavg()
        return {"min1": min1, "min5": min5, "min15": min15, "cpucore": self._count() or 1}
