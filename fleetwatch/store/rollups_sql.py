"""``RollupStore`` in SQL that SQLite and PostgreSQL both speak (``?`` rewritten per backend).

Rollups are written with an upsert keyed on (system, resolution, bucket), so re-running the
downsampling job over the same buckets (after a crash, or on a second hub sharing PostgreSQL)
replaces rows with the same figures instead of duplicating them.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from .base import Statement, decode_json, encode_json
from .identity_sql import IdentitySQL
from .query_sql import Dialect
from .rollups import RollupRecord
from .summaries_py import PACKED_ROWS, PackedSummary
from .summaries_sql import HistoryItem, SummaryRow, summary_statement

__all__ = ["RollupSQL"]

Row = tuple[Any, ...]

# At most this many rollup writes are queued at once, so a large catch-up never fills the
# writer queue that ingestion depends on (a full queue answers submissions with 503).
WRITE_CHUNK = 200

# Packed snapshots summed between two turns of the event loop (~1 ms of work).
SUMMARY_SLICE = 16

_FIRST_SNAPSHOT = (
    "SELECT min(created_at) FROM snapshots"
    " WHERE system_id = ? AND created_at >= ? AND created_at < ?"
)
_SAVE_ROLLUP = (
    "INSERT INTO rollups (system_id, resolution_seconds, bucket_start, samples, stats)"
    " VALUES (?, ?, ?, ?, ?) ON CONFLICT (system_id, resolution_seconds, bucket_start)"
    " DO UPDATE SET samples = excluded.samples, stats = excluded.stats"
)
_ROLLUPS = (
    "SELECT system_id, resolution_seconds, bucket_start, samples, stats FROM rollups"
    " WHERE system_id = ? AND resolution_seconds = ? AND bucket_start >= ? AND bucket_start < ?"
)
_NEWEST = " ORDER BY bucket_start DESC LIMIT ?"
_OLDEST = " ORDER BY bucket_start LIMIT ?"
_WATERMARK = "SELECT done_until FROM rollup_progress WHERE resolution_seconds = ?"
_SET_WATERMARK = (
    "INSERT INTO rollup_progress (resolution_seconds, done_until) VALUES (?, ?)"
    " ON CONFLICT (resolution_seconds) DO UPDATE SET done_until = CASE"
    " WHEN excluded.done_until > rollup_progress.done_until THEN excluded.done_until"
    " ELSE rollup_progress.done_until END"
)
# The systems with a rollup to prune: one probe of the primary key per system inside a single
# read, so an hourly pass over 10,000 systems with nothing to prune writes nothing.
_SYSTEMS_TO_PRUNE = (
    "SELECT s.id FROM systems s WHERE EXISTS (SELECT 1 FROM rollups r WHERE r.system_id = s.id"
    " AND r.resolution_seconds = ? AND r.bucket_start < ?) ORDER BY s.id"
)
# The systems that stored a snapshot in a range: a range of the created_at index, as long as
# the snapshots that arrived in it, whatever the fleet's size (silent systems cost nothing).
_SYSTEMS_WITH_SNAPSHOTS = (
    "SELECT DISTINCT system_id FROM snapshots WHERE created_at >= ? AND created_at < ?"
    " ORDER BY system_id"
)
# The bound of the oldest ``batch`` rows, then a range delete up to it: a short write that the
# primary key serves, in SQL both backends accept (SQLite has no DELETE ... LIMIT by default).
_PRUNE_ROLLUPS = (
    "DELETE FROM rollups WHERE system_id = ? AND resolution_seconds = ? AND bucket_start <= ("
    "SELECT max(bucket_start) FROM (SELECT bucket_start FROM rollups"
    " WHERE system_id = ? AND resolution_seconds = ? AND bucket_start < ?"
    " ORDER BY bucket_start LIMIT ?) oldest)"
)


class RollupSQL(IdentitySQL):
    """Mixed into a backend that provides ``_write`` and ``_rows``."""

    dialect: Dialect

    async def first_snapshot_at(self, system_id: int, since: float, until: float) -> float | None:
        rows = await self._rows(self._sql(_FIRST_SNAPSHOT), (system_id, since, until))
        return None if not rows or rows[0][0] is None else float(rows[0][0])

    async def systems_with_snapshots(self, since: float, until: float) -> list[int]:
        rows = await self._rows(self._sql(_SYSTEMS_WITH_SNAPSHOTS), (since, until))
        return [int(row[0]) for row in rows]

    async def snapshot_summaries(
        self,
        system_id: int,
        since: float,
        until: float,
        resolution: int,
        items: list[HistoryItem],
    ) -> list[SummaryRow]:
        if not items:
            raise ValueError("no history items to summarise")
        if self.dialect == "postgres":
            # Packed rows (migration 0015): unpacked and summed by the hub, a slice at a time.
            rows = await self._rows(PACKED_ROWS, (system_id, since, until))
            summary = PackedSummary(items, resolution)
            for start in range(0, len(rows), SUMMARY_SLICE):
                summary.add_rows(rows[start : start + SUMMARY_SLICE])
                await asyncio.sleep(0)  # let submissions in between slices
            return summary.rows()
        sql, params = summary_statement(self.dialect, items, system_id, since, until, resolution)
        return [
            (float(bucket), plugin, item, float(total), float(low), float(high), int(count))
            for bucket, plugin, item, total, low, high, count in await self._rows(sql, params)
        ]

    async def save_rollups(self, records: Sequence[RollupRecord]) -> None:
        sql = self._sql(_SAVE_ROLLUP)
        for start in range(0, len(records), WRITE_CHUNK):
            chunk = records[start : start + WRITE_CHUNK]
            # Queued together, they share group commits instead of one fsync each.
            await asyncio.gather(*(self._write(Statement(sql, _params(r))) for r in chunk))

    async def rollups(
        self,
        system_id: int,
        resolution: int,
        since: float,
        until: float,
        *,
        limit: int,
        oldest: bool = False,
    ) -> list[RollupRecord]:
        params = (system_id, resolution, since, until, max(limit, 0))
        rows = await self._rows(self._sql(_ROLLUPS + (_OLDEST if oldest else _NEWEST)), params)
        return [
            RollupRecord(int(sid), int(res), float(start), int(samples), _json(stats))
            for sid, res, start, samples, stats in (rows if oldest else reversed(rows))
        ]

    async def rollup_watermark(self, resolution: int) -> float | None:
        rows = await self._rows(self._sql(_WATERMARK), (resolution,))
        return float(rows[0][0]) if rows else None

    async def set_rollup_watermark(self, resolution: int, done_until: float) -> None:
        await self._write(Statement(self._sql(_SET_WATERMARK), (resolution, done_until)))

    async def prune_rollups(self, resolution: int, before: float, *, batch: int = 1000) -> int:
        if batch < 1:
            raise ValueError("batch must be >= 1")
        sql = self._sql(_PRUNE_ROLLUPS)
        total = 0
        found = await self._rows(self._sql(_SYSTEMS_TO_PRUNE), (resolution, before))
        for (system_id,) in found:
            while True:
                params = (system_id, resolution, system_id, resolution, before, batch)
                deleted = await self._write(Statement(sql, params))
                total += deleted
                if deleted < batch:
                    break
        return total


def _params(record: RollupRecord) -> tuple[object, ...]:
    return (
        record.system_id,
        record.resolution,
        record.bucket_start,
        record.samples,
        encode_json(record.stats),
    )


def _json(value: Any) -> Any:
    # SQLite hands JSON back as text; PostgreSQL's jsonb arrives decoded.
    return decode_json(value) if isinstance(value, str | bytes) else value
