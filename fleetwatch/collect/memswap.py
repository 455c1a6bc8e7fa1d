"""``memswap``: swap space and the cumulative bytes swapped in and out."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psutil

from fleetwatch.collect.base import CollectContext
from fleetwatch.model.plugin import PluginSpec, ViewRule

SPEC = PluginSpec(
    name="memswap",
    shape="dict",
    history=("percent",),
    views=(ViewRule("percent", "memswap"),),
)


class MemswapCollector:
    spec = SPEC

    def __init__(self, source: Callable[[], Any] = psutil.swap_memory) -> None:
        self._source = source
        self._last: float | None = None

    def collect(self, ctx: CollectContext) -> dict[str, Any]:
        sw = self._source()
        since = 0.0 if self._last is None else round(ctx.now - self._last, 3)
        self._last = ctx.now
        return {
            "total": int(sw.total),
            "used": int(sw.used),
            "free": int(sw.free),
            "percent": float(sw.percent),
            "sin": int(getattr(sw, "sin", 0)),
            "sout": int(getattr(sw, "sout", 0)),
            "time_since_update": since,
        }
