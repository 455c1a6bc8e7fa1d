"""``irq``: interrupts per second for each IRQ line, busiest first, from /proc/interrupts."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from fleetwatch.collect.base import CollectContext
from fleetwatch.model.plugin import PluginSpec

SPEC = PluginSpec(name="irq", shape="list", key="irq_line")


def read_interrupts(path: Path = Path("/proc/interrupts")) -> dict[str, int]:
    """Total count per IRQ line (summed over CPUs); lines named by their description."""
    try:
        lines = path.read_text().splitlines()
    except OSError:
        return {}
    if not lines:
        return {}
    ncpu = len(lines[0].split())
    totals: dict[str, int] = {}
    for line in lines[1:]:
        head, _, rest = line.partition(":")
        cols = rest.split()
        counts = [int(c) for c in cols[:ncpu] if c.isdigit()]
        label = " ".join(cols[len(counts) :]).strip()
        name = head.strip()
        if not name.isdigit() and label == "":
            label = name
        # Glances names numbered lines ``<number>_<device>`` (``1_i8042``), others by their
        # mnemonic (``NMI``, ``LOC``...).
        key = f"{name}_{label.split()[-1]}" if name.isdigit() and label else name
        totals[key] = totals.get(key, 0) + sum(counts)
    return totals


class IrqCollector:
    spec = SPEC

    def __init__(self, source: Callable[[], dict[str, int]] = read_interrupts) -> None:
        self._source = source
        self._previous = source()
        self._last: float | None = None

    def collect(self, ctx: CollectContext) -> list[dict[str, Any]]:
        current = self._source()
        since = ctx.now - self._last if self._last is not None else 0.0
        self._last = ctx.now
        out: list[dict[str, Any]] = []
        for line, total in current.items():
            delta = total - self._previous.get(line, total)
            rate = delta / since if since > 0 else 0.0
            if rate > 0:
                out.append(
                    {
                        "key": "irq_line",
                        "irq_line": line,
                        "irq_rate": round(rate, 1),
                        "time_since_update": round(since, 3),
                    }
                )
        self._previous = current
        out.sort(key=lambda i: -i["irq_rate"])
        return out
