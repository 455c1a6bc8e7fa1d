"""The headline figures of a Glances-shaped snapshot, the ones people filter and sort on.

Stored beside every snapshot (the ``summary`` column) so the query API can filter on them
through an index, and shown in the fleet lists. Migration 0004 computes the same figures in SQL
for snapshots stored before it; the two must agree.
"""

from __future__ import annotations

import math
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

__all__ = ["CONSOLE_FIGURES", "SUMMARY_FIGURES", "console_figures", "summary_of"]

SUMMARY_FIGURES = (
    "cpu_percent", "mem_percent", "swap_percent", "storage_percent", "load1", "cpu_num",
    "memory_bytes",
)  # fmt: skip
# What the console's fleet page shows besides (None where the snapshot lacks them). Snapshots
# stored before these were added lack the keys: the next one from that system has them.
CONSOLE_FIGURES = (
    "fs_max_percent", "net_rx_bytes_per_second", "net_tx_bytes_per_second", "temp_max_celsius",
    "gpu_percent", "load5", "load15",
)  # fmt: skip


_TENTH = Decimal("0.1")


def _number(value: object) -> float | int | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return value
    return None


def _one_decimal(value: float) -> float:
    """``value`` to one decimal, halves away from zero, as SQL's round() does in the migration
    (Python's round() would give 31.2 for 31.25 where the database gives 31.3)."""
    scaled = value * 10.0
    if abs(scaled) < 1e12 and abs(abs(scaled - math.trunc(scaled)) - 0.5) > 1e-6:
        # No half to settle: the float product rounds as the decimal would, and an integer
        # divided by ten is the float nearest that decimal (0.3 µs here, 1.4 µs through Decimal).
        return math.floor(scaled + 0.5) / 10.0 if scaled >= 0 else math.ceil(scaled - 0.5) / 10.0
    return float(Decimal(repr(value)).quantize(_TENTH, ROUND_HALF_UP))


def _section(stats: dict[str, Any], name: str) -> dict[str, Any]:
    value = stats.get(name)
    return value if isinstance(value, dict) else {}


def _capacity(fs: dict[str, Any]) -> float | int:
    """What a file system's usage is a share of: used + free where both are known, as psutil
    and ``/api/4/fs``'s ``percent`` count it (blocks reserved for root are neither), else its
    size. One definition of storage use everywhere (migration 0010 applies it to older rows)."""
    used, free = _number(fs.get("used")), _number(fs.get("free"))
    if used is not None and free is not None:
        return used + free
    return _number(fs.get("size")) or 0


def summary_of(stats: dict[str, Any]) -> dict[str, Any]:
    """The figures of ``stats`` (None where the snapshot lacks them)."""
    fs = stats.get("fs")
    filesystems = [f for f in fs if isinstance(f, dict)] if isinstance(fs, list) else []
    used = sum(_number(f.get("used")) or 0 for f in filesystems)
    size = sum(_capacity(f) for f in filesystems)
    percpu = stats.get("percpu")
    return {
        "cpu_percent": _number(_section(stats, "cpu").get("total")),
        "mem_percent": _number(_section(stats, "mem").get("percent")),
        "swap_percent": _number(_section(stats, "memswap").get("percent")),
        "storage_percent": _one_decimal(100.0 * used / size) if size else None,
        "load1": _number(_section(stats, "load").get("min1")),
        "cpu_num": (len(percpu) or None) if isinstance(percpu, list) else None,
        "memory_bytes": _number(_section(stats, "mem").get("total")),
        **console_figures(stats, filesystems),
    }


def _items(stats: dict[str, Any], name: str) -> list[dict[str, Any]]:
    value = stats.get(name)
    return [i for i in value if isinstance(i, dict)] if isinstance(value, list) else []


def _largest(values: list[float | int | None]) -> float | int | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _total(values: list[float | int | None]) -> float | None:
    present = [v for v in values if v is not None]
    return round(float(sum(present)), 3) if present else None


def console_figures(stats: dict[str, Any], filesystems: list[dict[str, Any]]) -> dict[str, Any]:
    """The fullest disk, network throughput, hottest sensor, busiest GPU and the longer loads."""
    network = [i for i in _items(stats, "network") if i.get("interface_name") != "lo"]
    temperatures = [
        s
        for s in _items(stats, "sensors")
        if str(s.get("type", "")).startswith("temperature") or s.get("unit") == "C"
    ]
    load = _section(stats, "load")
    return {
        "fs_max_percent": _largest([_number(f.get("percent")) for f in filesystems]),
        "net_rx_bytes_per_second": _total(
            [_number(i.get("bytes_recv_rate_per_sec")) for i in network]
        ),
        "net_tx_bytes_per_second": _total(
            [_number(i.get("bytes_sent_rate_per_sec")) for i in network]
        ),
        "temp_max_celsius": _largest([_number(s.get("value")) for s in temperatures]),
        "gpu_percent": _largest([_number(g.get("proc")) for g in _items(stats, "gpu")]),
        "load5": _number(load.get("min5")),
        "load15": _number(load.get("min15")),
    }
