"""``summaries_sql``'s statement, done by the hub: for PostgreSQL's packed snapshots.

PostgreSQL cannot walk a packed normal form (migration 0015), so the hub reads a window's
packed rows and sums them here, exactly as the statement does: per bucket, the number of
snapshots, and per item the sum, min, max and count of its JSON numbers. It runs on the event
loop a few rows at a time (``RollupSQL.snapshot_summaries``), yielding between them: a worker
thread would take the interpreter's lock for as long, and the loop, which releases it at every
wait for I/O, waited for it again each time (41 ms lags in ``bench/downsample.py``).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import orjson

from .pg_snapshots import normalized_of, unpack_json
from .summaries_sql import HistoryItem, SummaryRow

__all__ = ["PACKED_ROWS", "PackedSummary", "summarise_packed"]

# The rows summarise_packed reads, oldest first (an index range of (system_id, created_at)).
PACKED_ROWS = (
    "SELECT created_at, source, document_z, normalized_z FROM snapshots"
    " WHERE system_id = %s AND created_at >= %s AND created_at < %s"
)

Point = list[float]  # sum, min, max, count


_NUMBERS = (int, float)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _name(value: object) -> str | None:
    """``element ->> key`` of a string or a number, as jsonb writes it."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not _is_number(value):
        return None
    return orjson.dumps(value).decode()


class PackedSummary:
    """The :data:`SummaryRow` rows of packed snapshots, added a few at a time."""

    def __init__(self, items: list[HistoryItem], resolution: int) -> None:
        self.resolution = resolution
        # Per plugin, the fields to look up (a dict's item is named by its field; a list's by
        # its element's key, then the field) and the list plugins' key.
        self.keys = {item.plugin: item.key for item in items if item.key is not None}
        self.fields: dict[str, tuple[str, ...]] = {}
        self.list_fields: dict[str, tuple[str, ...]] = {}
        for item in items:
            kept = self.fields if item.key is None else self.list_fields
            kept[item.plugin] = (*kept.get(item.plugin, ()), item.field)
        self.counts: dict[float, int] = {}
        self.points: dict[tuple[float, str, str], Point] = {}

    def add_rows(self, rows: Iterable[tuple[Any, ...]]) -> None:
        """Add snapshots read as ``PACKED_ROWS``' columns."""
        for created_at, source, document_z, normalized_z in rows:
            bucket = float(math.floor(created_at / self.resolution) * self.resolution)
            self.counts[bucket] = self.counts.get(bucket, 0) + 1
            normalized = normalized_of(str(source), unpack_json(document_z), normalized_z)
            if isinstance(normalized, dict):
                self._add_stats(bucket, normalized)

    def _add_stats(self, bucket: float, normalized: dict[str, Any]) -> None:
        for plugin, fields in self.fields.items():
            body = normalized.get(plugin)
            if isinstance(body, dict):
                self._add(bucket, plugin, [(field, body.get(field)) for field in fields])
        for plugin, fields in self.list_fields.items():
            body = normalized.get(plugin)
            key = self.keys.get(plugin)
            if isinstance(body, list) and key is not None:
                named = [
                    (f"{name}_{field}", element.get(field))
                    for element in body
                    if isinstance(element, dict) and (name := _name(element.get(key))) is not None
                    for field in fields
                ]
                self._add(bucket, plugin, named)

    def _add(self, bucket: float, plugin: str, named: list[tuple[str, Any]]) -> None:
        points = self.points
        for item, number in named:
            if type(number) not in _NUMBERS:  # bool is neither: not a figure
                continue
            value = float(number)  # as the statement's v::float8, before summing
            found = points.get((bucket, plugin, item))
            if found is None:
                points[(bucket, plugin, item)] = [value, value, value, 1]
            else:
                found[0] += value
                found[1] = min(found[1], value)
                found[2] = max(found[2], value)
                found[3] += 1

    def rows(self) -> list[SummaryRow]:
        out: list[SummaryRow] = [(b, None, None, 0.0, 0.0, 0.0, n) for b, n in self.counts.items()]
        out.extend(
            (bucket, plugin, item, total, low, high, int(count))
            for (bucket, plugin, item), (total, low, high, count) in self.points.items()
        )
        return out


def summarise_packed(
    rows: Iterable[tuple[Any, ...]], items: list[HistoryItem], resolution: int
) -> list[SummaryRow]:
    """The :data:`SummaryRow` rows of ``rows`` (``PACKED_ROWS``' columns), at once."""
    summary = PackedSummary(items, resolution)
    summary.add_rows(rows)
    return summary.rows()
