"""``mem``: physical memory.

Like Glances, ``free`` is what is available to programs and ``used`` is ``total - free``,
so that ``used / total`` matches ``percent``; the kernel's own ``MemFree`` is not shown.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psutil

from fleetwatch.collect.base import CollectContext
from fleetwatch.model.plugin import PluginSpec, ViewRule

SPEC = PluginSpec(
    name="mem", shape="dict", history=("percent",), views=(ViewRule("percent", "mem"),)
)

_OPTIONAL = ("active", "inactive", "buffers", "cached", "wired", "shared")


class MemCollector:
    spec = SPEC

    def __init__(self, source: Callable[[], Any] = psutil.virtual_memory) -> None:
        self._source = source

    def collect(self, ctx: CollectContext) -> dict[str, Any]:
        vm = self._source()
        total = int(vm.total)
        available = int(vm.available)
        stats: dict[str, Any] = {
            "total": total,
            "available": available,
            "percent": float(vm.percent),
            "free": available,
            "used": total - available,
        }
        for name in _OPTIONAL:
            if hasattr(vm, name):
                stats[name] = int(getattr(vm, name))
        return stats
