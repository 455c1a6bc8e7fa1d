"""``HubStore`` in SQL both backends speak (migration 0012); the locks are the backend's."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator, Sequence
from typing import Any

from .base import Statement, decode_json, encode_json
from .errors import NotFound
from .hubs import NEVER, AuthMark, RhythmRow
from .identity_sql import IdentitySQL

__all__ = ["HubSQL"]

KEPT_INTERVALS = 20

# Appending ``gap`` to a JSON array of at most KEPT_INTERVALS numbers, the oldest dropped.
_APPEND = {
    "sqlite": (
        "CASE WHEN json_array_length(r.intervals) >= {kept}"
        " THEN json_remove(json_insert(r.intervals, '$[#]', {gap}), '$[0]')"
        " ELSE json_insert(r.intervals, '$[#]', {gap}) END"
    ),
    "postgres": (
        "CASE WHEN jsonb_array_length(r.intervals) >= {kept}"
        " THEN (r.intervals || to_jsonb({gap})) - 0 ELSE r.intervals || to_jsonb({gap}) END"
    ),
}

# A submission: one upsert. A stale system's row falls due at once (the job ends its event);
# ``returned_at`` keeps the first submission after the silence, the event's end.
_SEEN = (
    "INSERT INTO system_rhythms AS r (system_id, last_seen, intervals, due_at)"
    " VALUES (?, ?, '[]', ?) ON CONFLICT (system_id) DO UPDATE SET"
    " intervals = {append}, last_seen = excluded.last_seen,"
    " due_at = CASE WHEN r.stale_since IS NULL THEN excluded.due_at ELSE 0 END,"
    " returned_at = CASE WHEN r.stale_since IS NULL THEN NULL"
    "  ELSE coalesce(r.returned_at, excluded.last_seen) END"
    " WHERE excluded.last_seen > r.last_seen"
)
_COLUMNS = "system_id, last_seen, intervals, due_at, stale_event_id, stale_since, returned_at"
_DUE = f"SELECT {_COLUMNS} FROM system_rhythms WHERE due_at <= ? ORDER BY due_at LIMIT ?"  # noqa: S608
_ALL = f"SELECT {_COLUMNS} FROM system_rhythms"  # noqa: S608
_SET = (
    "UPDATE system_rhythms SET intervals = CAST(? AS {json}), due_at = ?"
    " WHERE system_id = ? AND last_seen = ?"
)
_CLAIM = (
    "UPDATE system_rhythms SET stale_since = ?, due_at = ?, returned_at = NULL"
    " WHERE system_id = ? AND last_seen = ? AND stale_since IS NULL"
)
_EVENT = "UPDATE system_rhythms SET stale_event_id = ? WHERE system_id = ?"
_CLEAR = (
    "UPDATE system_rhythms SET stale_since = NULL, stale_event_id = NULL, returned_at = NULL,"
    " due_at = ? WHERE system_id = ? AND stale_since = ?"
)
_STALE = "SELECT system_id, stale_event_id FROM system_rhythms WHERE stale_since IS NOT NULL"
_COUNTER = "SELECT value FROM hub_counters WHERE name = ?"
_BUMP = "UPDATE hub_counters SET value = value + 1 WHERE name = ?"

_MARK = "INSERT INTO auth_failures (credential, address, at, succeeded) VALUES (?, ?, ?, ?)"
_MARKS = (
    "SELECT id, credential, address, at, succeeded FROM auth_failures"
    " WHERE id > ? AND at >= ? ORDER BY id LIMIT ?"
)
_PRUNE_MARKS = "DELETE FROM auth_failures WHERE at < ?"


def _rhythm(row: Sequence[Any]) -> RhythmRow:
    intervals = row[2]
    if isinstance(intervals, str | bytes):
        intervals = decode_json(intervals)
    return RhythmRow(
        int(row[0]), float(row[1]), None if intervals is None else [float(i) for i in intervals],
        float(row[3]), row[4], row[5], row[6],
    )  # fmt: skip


class HubSQL(IdentitySQL):
    """Mixed into a backend: rhythms, counters and failed logins shared by its hubs."""

    dialect: str

    async def record_seen(self, seen: Sequence[tuple[int, float]], minimum: float) -> None:
        if not seen:
            return
        gap = "excluded.last_seen - r.last_seen"
        append = _APPEND[self.dialect].format(kept=KEPT_INTERVALS, gap=gap)
        sql = self._sql(_SEEN.format(append=append))
        # Each its own write (the writer still commits them in one group): a system removed
        # meanwhile fails its own upsert only.
        results = await asyncio.gather(
            *(self._write(Statement(sql, (sid, when, when + minimum))) for sid, when in seen),
            return_exceptions=True,
        )
        for result in results:
            if isinstance(result, BaseException) and not isinstance(result, NotFound):
                raise result

    async def rhythms_due(self, now: float, limit: int) -> list[RhythmRow]:
        return [_rhythm(row) for row in await self._select(_DUE, (now, limit))]

    async def rhythms(self, ids: Sequence[int] | None = None) -> dict[int, RhythmRow]:
        if ids is None:
            rows = await self._select(_ALL, ())
        elif not ids:
            return {}
        else:
            marks = ", ".join("?" * len(ids))
            rows = await self._select(f"{_ALL} WHERE system_id IN ({marks})", tuple(ids))
        return {int(row[0]): _rhythm(row) for row in rows}

    async def set_rhythm(
        self, system_id: int, *, intervals: list[float] | None, due_at: float, last_seen: float
    ) -> bool:
        text = None if intervals is None else encode_json(intervals)
        sql = _SET.format(json="TEXT" if self.dialect == "sqlite" else "jsonb")
        return await self._change(sql, (text, due_at, system_id, last_seen)) > 0

    async def claim_stale(self, system_id: int, last_seen: float, since: float) -> bool:
        return await self._change(_CLAIM, (since, NEVER, system_id, last_seen)) > 0

    async def set_stale_event(self, system_id: int, event_id: int | None) -> None:
        await self._change(_EVENT, (event_id, system_id))

    async def clear_stale(self, system_id: int, stale_since: float, due_at: float) -> bool:
        return await self._change(_CLEAR, (due_at, system_id, stale_since)) > 0

    async def stale_systems(self) -> dict[int, int | None]:
        return {int(row[0]): row[1] for row in await self._select(_STALE, ())}

    async def counter(self, name: str) -> int:
        rows = await self._select(_COUNTER, (name,))
        return int(rows[0][0]) if rows else 0

    async def bump_counter(self, name: str) -> None:
        await self._change(_BUMP, (name,))

    async def add_auth_marks(self, marks: Sequence[tuple[str, str, float, bool]]) -> list[int]:
        return [await self._insert(_MARK, mark) for mark in marks]

    async def auth_marks_after(self, after_id: int, since: float, limit: int) -> list[AuthMark]:
        rows = await self._select(_MARKS, (after_id, since, limit))
        return [AuthMark(int(r[0]), r[1], r[2], float(r[3]), bool(r[4])) for r in rows]

    async def prune_auth_marks(self, before: float) -> int:
        return await self._change(_PRUNE_MARKS, (before,))

    # One hub per SQLite file: every lock is this process'. PostgresStore overrides these.

    async def hold_lock(self, name: str) -> bool:
        return True

    @contextlib.asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[None]:
        yield

    async def wait_changes(self, channel: str, seconds: float) -> bool:
        await asyncio.sleep(seconds)
        return False
