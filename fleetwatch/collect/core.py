"""``core``: physical and logical CPU counts."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psutil

from fleetwatch.collect.base import CollectContext
from fleetwatch.model.plugin import PluginSpec

SPEC = PluginSpec(name="core", shape="dict", refresh_limit="core_refresh")


class CoreCollector:
    spec = SPEC

    def __init__(self, count: Callable[..., int | None] = psutil.cpu_count) -> None:
        self._count = count

    def collect(self, ctx: CollectContext) -> dict[str, Any]:
        logical = self._count(logical=True) or 1
        return {"phys": self._count(logical=False) or logical, "log": logical}
