"""``diskio``: per-disk read and write counters (rates are derived by the collector)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psutil

from fleetwatch.collect.base import CollectContext
from fleetwatch.model.plugin import PluginSpec

SPEC = PluginSpec(
    name="diskio",
    shape="list",
    key="disk_name",
    history=("read_bytes_rate_per_sec", "write_bytes_rate_per_sec"),
)


def _perdisk() -> dict[str, Any]:
    return psutil.disk_io_counters(perdisk=True) or {}


class DiskioCollector:
    spec = SPEC

    def __init__(self, source: Callable[[], dict[str, Any]] = _perdisk) -> None:
        self._source = source

    def collect(self, ctx: CollectContext) -> list[dict[str, Any]]:
        return [
            {
                "key": "disk_name",
                "disk_name": name,
                "read_count": int(c.read_count),
                "write_count": int(c.write_count),
                "read_bytes": int(c.read_bytes),
                "write_bytes": int(c.write_bytes),
            }
            for name, c in self._source().items()
        ]
