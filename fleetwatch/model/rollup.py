"""Summaries of history items over time buckets: what downsampled history is made of.

A bucket keeps, per plugin and history item (named as ``History`` names them: the field for a
dict plugin, ``<key>_<field>`` for a list plugin), the running sum, min, max and count of its
numeric values; stored, each item is ``[avg, min, max, count]``, and coarser buckets are merged
from finer ones weighted by count, so an hour's average is the average of its samples. The
database sums the snapshots into minutes (``fleetwatch.store.summaries_sql``); hours are merged
from minutes here.
"""

from __future__ import annotations

import math
from collections.abc import Mapping

__all__ = ["HOUR", "MINUTE", "Bucket", "bucket_of"]

MINUTE = 60
HOUR = 3600

Summary = list[float]  # stored form: [avg, min, max, count]


def bucket_of(when: float, resolution: int) -> float:
    """The start of the bucket of ``resolution`` seconds that holds ``when``."""
    return math.floor(when / resolution) * resolution


class Bucket:
    """One system's items over one bucket, from the database's sums or finer buckets."""

    __slots__ = ("_items", "samples")

    def __init__(self) -> None:
        self.samples = 0
        # plugin -> item -> [sum, min, max, count]
        self._items: dict[str, dict[str, list[float]]] = {}

    def add_totals(
        self, plugin: str, item: str, total: float, low: float, high: float, count: int
    ) -> None:
        """Fold in an item's sum, min, max and count; ``samples`` is set on its own."""
        self._merge(plugin, item, total, low, high, count)

    def add_summary(self, stats: Mapping[str, Mapping[str, Summary]], samples: int) -> None:
        """Fold in a finer bucket's stored stats."""
        self.samples += samples
        for plugin, items in stats.items():
            for item, (avg, low, high, count) in items.items():
                self._merge(plugin, item, avg * count, low, high, int(count))

    def _merge(self, plugin: str, item: str, total: float, low: float, high: float, n: int) -> None:
        series = self._items.setdefault(plugin, {})
        acc = series.get(item)
        if acc is None:
            series[item] = [total, low, high, n]
            return
        acc[0] += total
        acc[1] = min(acc[1], low)
        acc[2] = max(acc[2], high)
        acc[3] += n

    def stats(self) -> dict[str, dict[str, Summary]]:
        """The stored form: ``[avg, min, max, count]`` per item."""
        return {
            plugin: {item: [s / n, low, high, n] for item, (s, low, high, n) in items.items()}
            for plugin, items in self._items.items()
        }
