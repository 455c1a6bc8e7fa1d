"""``quicklook``: the headline figures, reusing what cpu, percpu, mem, memswap and load gathered."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from fleetwatch.collect.base import CollectContext
from fleetwatch.model.plugin import PluginSpec, ViewRule

SPEC = PluginSpec(
    name="quicklook",
    shape="dict",
    history=("cpu", "mem", "load"),
    views=(
        ViewRule("cpu", "quicklook_cpu"),
        ViewRule("mem", "quicklook_mem"),
        ViewRule("swap", "quicklook_swap"),
        ViewRule("load", "quicklook_load"),
    ),
)


def read_cpu_name(path: Path = Path("/proc/cpuinfo")) -> str:
    try:
        for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
            name, _, value = line.partition(":")
            if name.strip() in {"model name", "Hardware", "cpu model"}:
                return value.strip()
    except OSError:
        pass
    return "CPU"


class QuicklookCollector:
    spec = SPEC

    def __init__(
        self,
        cpu_name: Callable[[], str] = read_cpu_name,
        freq: Callable[[], Any] = psutil.cpu_freq,
        count: Callable[..., int | None] = psutil.cpu_count,
    ) -> None:
        self._name = cpu_name()
        self._freq = freq
        self._log = count(logical=True) or 1
        self._phys = count(logical=False) or self._log

    def collect(self, ctx: CollectContext) -> dict[str, Any]:
        r = ctx.results
        cpu = r.get("cpu") or {}
        mem = r.get("mem") or {}
        swap = r.get("memswap") or {}
        load = r.get("load") or {}
        try:
            freq = self._freq()
        except (OSError, NotImplementedError):
            freq = None
        stats: dict[str, Any] = {
            "cpu": cpu.get("total"),
            "percpu": r.get("percpu") or [],
            "mem": mem.get("percent"),
            "swap": swap.get("percent"),
            "load": round(100.0 * float(load.get("min15", 0.0)) / self._log, 1) if load else None,
            "cpu_name": self._name,
            "cpu_hz_current": float(freq.current) * 1e6 if freq and freq.current else None,
            "cpu_hz": float(freq.max) * 1e6 if freq and freq.max else None,
            "cpu_log_core": self._log,
            "cpu_phys_core": self._phys,
        }
        return stats
