"""Summaries of history items over time buckets: what downsampled history is made of.

A bucket keeps, per plugin and history item (named as ``History`` names them: the field for a
dict plugin, ``<key>_<field>`` for a list plugin), the running sum, min, max and count of its
numeric values; stored, each item is ``[avg, min, max, count]``, and coarser buckets are merged
from finer ones weighted by count, so an hour's average is the average of its samples.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Mapping
from typing import Any

from fleetwatch.model.plugin import PluginSpec

__all__ = ["HOUR", "MINUTE", "Bucket", "bucket_of", "history_items", "summarise"]

MINUTE = 60
HOUR = 3600

Summary = list[float]  # stored form: [avg, min, max, count]


def bucket_of(when: float, resolution: int) -> float:
    """The start of the bucket of ``resolution`` seconds that holds ``when``."""
    return math.floor(when / resolution) * resolution


def history_items(
    stats: Mapping[str, Any], specs: Mapping[str, PluginSpec]
) -> Iterator[tuple[str, str, float]]:
    """(plugin, item, value) for every finite numeric history item of a normalised snapshot."""
    for plugin, spec in specs.items():
        if not spec.history or plugin not in stats:
            continue
        value = stats[plugin]
        if isinstance(value, dict):
            for name in spec.history:
                number = _number(value.get(name))
                if number is not None:
                    yield plugin, name, number
        elif isinstance(value, list) and spec.key is not None:
            for item in value:
                if not isinstance(item, dict) or spec.key not in item:
                    continue
                for name in spec.history:
                    number = _number(item.get(name))
                    if number is not None:
                        yield plugin, f"{item[spec.key]}_{name}", number


def _number(value: Any) -> float | None:
    # bool is an int to Python, but a flag is not a figure to average.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    number = float(value)
    return number if math.isfinite(number) else None


class Bucket:
    """One system's items over one bucket, accumulated from samples or finer buckets."""

    __slots__ = ("_items", "samples")

    def __init__(self) -> None:
        self.samples = 0
        # plugin -> item -> [sum, min, max, count]
        self._items: dict[str, dict[str, list[float]]] = {}

    def add_sample(self, items: Iterable[tuple[str, str, float]]) -> None:
        self.samples += 1
        for plugin, item, value in items:
            self._merge(plugin, item, value, value, value, 1)

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


def summarise(
    rows: Iterable[tuple[float, Mapping[str, Any]]],
    specs: Mapping[str, PluginSpec],
    resolution: int,
    into: dict[float, Bucket] | None = None,
) -> dict[float, Bucket]:
    """Snapshots ``(created_at, normalised stats)`` summarised per bucket start, added to
    ``into`` (buckets carried over from an earlier page) when given."""
    buckets: dict[float, Bucket] = {} if into is None else into
    for when, stats in rows:
        start = bucket_of(when, resolution)
        bucket = buckets.get(start)
        if bucket is None:
            bucket = buckets[start] = Bucket()
        bucket.add_sample(history_items(stats, specs))
    return buckets
