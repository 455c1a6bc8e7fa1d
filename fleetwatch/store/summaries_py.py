"""``summaries_sql``'s statement, done by the hub: for PostgreSQL's packed snapshots.

PostgreSQL cannot walk a packed normal form (migration 0015), so the hub reads a window's
packed rows and sums them here, exactly as the statement does: per bucket, the number of
snapshots, and per item the sum, min, max and count of its JSON numbers. It runs in a worker
thread (``RollupSQL.snapshot_summaries``): unpacking and walking an hour of one system's
snapshots takes a few milliseconds the event loop owes submissions.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

import orjson

from .pg_snapshots import normalized_of, unpack_json
from .summaries_sql import HistoryItem, SummaryRow

__all__ = ["PACKED_ROWS", "summarise_packed"]

# The rows summarise_packed reads, oldest first (an index range of (system_id, created_at)).
PACKED_ROWS = (
    "SELECT created_at, source, document_z, normalized_z FROM snapshots"
    " WHERE system_id = %s AND created_at >= %s AND created_at < %s"
)

Point = list[float]  # sum, min, max, count


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _name(value: object) -> str | None:
    """``element ->> key`` of a string or a number, as jsonb writes it."""
    if isinstance(value, str):
        return value
    if isinstance(value, bool) or not _is_number(value):
        return None
    return orjson.dumps(value).decode()


def summarise_packed(
    rows: Iterable[tuple[Any, ...]], items: list[HistoryItem], resolution: int
) -> list[SummaryRow]:
    """The :data:`SummaryRow` rows of ``rows`` (``PACKED_ROWS``' columns)."""
    keys = {item.plugin: item.key for item in items if item.key is not None}
    dict_fields = {f"{item.plugin}.{item.field}" for item in items if item.key is None}
    list_fields = {f"{item.plugin}.{item.field}" for item in items if item.key is not None}
    plugins = {item.plugin for item in items}
    counts: dict[float, int] = {}
    points: dict[tuple[float, str, str], Point] = {}

    def add(bucket: float, plugin: str, item: str, value: float) -> None:
        found = points.get((bucket, plugin, item))
        if found is None:
            points[(bucket, plugin, item)] = [value, value, value, 1]
        else:
            found[0] += value
            found[1] = min(found[1], value)
            found[2] = max(found[2], value)
            found[3] += 1

    for created_at, source, document_z, normalized_z in rows:
        bucket = float(math.floor(created_at / resolution) * resolution)
        counts[bucket] = counts.get(bucket, 0) + 1
        normalized = normalized_of(str(source), unpack_json(document_z), normalized_z)
        if not isinstance(normalized, dict):
            continue
        for plugin in plugins & normalized.keys():
            body = normalized[plugin]
            if isinstance(body, dict):
                for field, value in body.items():
                    if _is_number(value) and f"{plugin}.{field}" in dict_fields:
                        add(bucket, plugin, field, float(value))
            elif isinstance(body, list) and plugin in keys:
                key = keys[plugin]
                for element in body:
                    name = _name(element.get(key)) if isinstance(element, dict) else None
                    if name is None:
                        continue
                    for field, value in element.items():
                        if _is_number(value) and f"{plugin}.{field}" in list_fields:
                            add(bucket, plugin, f"{name}_{field}", float(value))
    out: list[SummaryRow] = [(b, None, None, 0.0, 0.0, 0.0, n) for b, n in counts.items()]
    out.extend(
        (bucket, plugin, item, total, low, high, int(count))
        for (bucket, plugin, item), (total, low, high, count) in points.items()
    )
    return out
