"""``fs``: mounted file systems and their usage."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import psutil

from fleetwatch.collect.base import CollectContext
from fleetwatch.model.plugin import PluginSpec, ViewRule


def _used_of_size(item: dict[str, Any]) -> float | None:
    size = item.get("size")
    return float(size) if size else None


SPEC = PluginSpec(
    name="fs",
    shape="list",
    key="mnt_point",
    history=("percent",),
    views=(ViewRule("used", "fs", maximum=_used_of_size),),
    refresh_limit="fs_refresh",
)


class FsCollector:
    spec = SPEC

    def __init__(
        self,
        partitions: Callable[..., list[Any]] = psutil.disk_partitions,
        usage: Callable[[str], Any] = psutil.disk_usage,
    ) -> None:
        self._partitions = partitions
        self._usage = usage

    def collect(self, ctx: CollectContext) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        seen: set[str] = set()
        for part in self._partitions(all=False):
            if part.mountpoint in seen:
                continue
            try:
                usage = self._usage(part.mountpoint)
            except OSError:
                # A mount that went away or that we may not read: leave it out, as Glances does.
                continue
            seen.add(part.mountpoint)
            out.append(
                {
                    "key": "mnt_point",
                    "device_name": part.device,
                    "fs_type": part.fstype,
                    "mnt_point": part.mountpoint,
                    "options": part.opts,
                    "size": int(usage.total),
                    "used": int(usage.used),
                    "free": int(usage.free),
                    "percent": float(usage.percent),
                }
            )
        return out
