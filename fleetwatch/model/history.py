"""Bounded history of selected fields, as ``/api/4/<plugin>/history`` serves it."""

from __future__ import annotations

import datetime as dt
from collections import deque
from typing import Any

Point = tuple[float, Any]


class History:
    """One ring buffer of (timestamp, value) per history item name.

    For list plugins Glances names an item ``<key value>_<field>`` (``eth0_bytes_recv``); for
    dict plugins the field name alone. Timestamps are kept as floats and turned into Glances'
    naive ISO form only when asked, which keeps 1,200 points a series small.
    """

    def __init__(self, size: int) -> None:
        self._size = max(int(size), 1)
        self._series: dict[str, deque[Point]] = {}

    def add(self, name: str, when: float, value: Any) -> None:
        series = self._series.get(name)
        if series is None:
            series = self._series[name] = deque(maxlen=self._size)
        series.append((when, value))

    def record(self, stats: Any, when: float, fields: tuple[str, ...], key: str | None) -> None:
        if not fields:
            return
        if isinstance(stats, dict):
            for name in fields:
                if name in stats:
                    self.add(name, when, stats[name])
        elif isinstance(stats, list) and key is not None:
            for item in stats:
                for name in fields:
                    if name in item:
                        self.add(f"{item[key]}_{name}", when, item[name])

    def names(self) -> list[str]:
        return list(self._series)

    def as_json(self, names: list[str] | None = None, last: int = 0) -> dict[str, list[list[Any]]]:
        wanted = self._series.keys() if names is None else [n for n in names if n in self._series]
        out: dict[str, list[list[Any]]] = {}
        for name in wanted:
            points = list(self._series[name])
            if last > 0:
                points = points[-last:]
            out[name] = [[_iso(when), value] for when, value in points]
        return out


def _iso(when: float) -> str:
    return dt.datetime.fromtimestamp(when).isoformat()
