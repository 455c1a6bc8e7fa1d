"""Counter fields into Glances' triplet: delta, ``_gauge`` and ``_rate_per_sec``."""

from __future__ import annotations

from typing import Any


class RateTracker:
    """Remembers each counter's previous reading, per item, between collections.

    ``<f>`` becomes the increase since the previous collection, ``<f>_gauge`` the counter
    itself and ``<f>_rate_per_sec`` the increase per second. With no earlier reading (the
    very first collection, or an item that just appeared) the increase and rate are 0 rather
    than the whole counter, and a counter that went backwards (a reset) counts from zero.
    """

    def __init__(self, fields: tuple[str, ...], key: str | None) -> None:
        self._fields = fields
        self._key = key
        self._previous: dict[Any, tuple[float, dict[str, int | float]]] = {}

    def apply(self, stats: Any, now: float) -> Any:
        if not self._fields:
            return stats
        if isinstance(stats, dict):
            if not stats:  # Glances' "nothing here" {} stays {}
                return stats
            self._previous = {None: self._one(stats, now, self._previous.get(None))}
            return stats
        if isinstance(stats, list) and self._key is not None:
            seen: dict[Any, tuple[float, dict[str, int | float]]] = {}
            for item in stats:
                ident = item.get(self._key)
                seen[ident] = self._one(item, now, self._previous.get(ident))
            self._previous = seen
        return stats

    def _one(
        self,
        item: dict[str, Any],
        now: float,
        before: tuple[float, dict[str, int | float]] | None,
    ) -> tuple[float, dict[str, int | float]]:
        gauges: dict[str, int | float] = {}
        elapsed = now - before[0] if before is not None else 0.0
        for name in self._fields:
            value = item.get(name)
            if not isinstance(value, int | float):
                continue
            gauges[name] = value
            previous = before[1].get(name) if before is not None else None
            delta = value - previous if previous is not None and value >= previous else 0
            item[f"{name}_gauge"] = value
            item[name] = delta
            item[f"{name}_rate_per_sec"] = round(delta / elapsed, 3) if elapsed > 0 else 0
        item["time_since_update"] = round(elapsed, 3)
        return now, gauges
