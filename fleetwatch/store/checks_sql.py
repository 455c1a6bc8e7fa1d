"""``CheckStore`` in SQL that SQLite and PostgreSQL both speak, on top of ``IdentitySQL``'s
plumbing (``?`` placeholders rewritten per backend, ``RETURNING id`` where needed).

A result's writes (the object's new state, the history row, its perfdata points) are queued
together, so they join one group commit, and the caller is answered once they are committed.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import secrets
import time
from collections.abc import Sequence
from typing import Any

import orjson

from .base import EventRecord, Statement, event_params
from .checks import (
    FILTER_NUMBERS,
    FILTER_TEXTS,
    MAX_CHECK_ATTEMPTS,
    MAX_WINDOW_SECONDS,
    AllOf,
    CheckObject,
    CheckResultRecord,
    Compare,
    Condition,
    DowntimeRecord,
    Not,
    ObjectKind,
    PerfPoint,
)
from .errors import InvalidInput, NotFound
from .identity_sql import IdentitySQL

__all__ = ["CheckSQL"]

Row = tuple[Any, ...]

_OBJECTS = (
    "SELECT id, kind, host_id, host_name, service_description, check_freshness,"
    " freshness_threshold, max_check_attempts, stale_state, stale_output,"
    " passive_checks_enabled, notes, created_at,"
    " state, state_type, attempt, output, long_output, perfdata, has_been_checked, last_check,"
    " last_state_change, last_hard_state, last_hard_state_change, acknowledged, ack_sticky,"
    " downtime_depth, is_stale, ttl, fresh_due_at, version FROM check_objects"
)
_BOOLEAN_COLUMNS = (5, 10, 19, 24, 25, 27)
_SAVE_STATE = (
    "UPDATE check_objects SET state = ?, state_type = ?, attempt = ?, output = ?,"
    " long_output = ?, perfdata = ?, has_been_checked = ?, last_check = ?,"
    " last_state_change = ?, last_hard_state = ?, last_hard_state_change = ?,"
    " acknowledged = ?, ack_sticky = ?, is_stale = ?, ttl = ?, fresh_due_at = ?,"
    " version = version + 1, saved_by = ? WHERE id = ? AND version = ?"
)
_SAVE_STATE_IF_DUE = _SAVE_STATE + " AND fresh_due_at = ?"
# Written in the same group right after the state, and only if that state was saved: the
# row then carries this save's own token. Nullable numbers are cast, so PostgreSQL
# knows their type in a SELECT list (SQLite reads DOUBLE PRECISION as REAL).
_SAVED = " WHERE EXISTS (SELECT 1 FROM check_objects WHERE id = ? AND saved_by = ?)"
_INSERT_RESULT = (
    "INSERT INTO check_results (object_id, checked_at, state, state_type, attempt, output,"
    " long_output, perfdata, source, ttl)"
    " SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, CAST(? AS DOUBLE PRECISION)" + _SAVED
)
# A result's points in one statement, not one per label: a thousand labels were a thousand
# statements, futures and result sets handled by the event loop (PostgreSQL's writer runs on
# it), ~50 ms of it held at a time. They travel as one JSON array of rows (orjson makes it in
# C: a tenth of what adapting one array per column cost psycopg); a non-finite value, which
# JSON cannot hold, is stored as no value, as every JSON answer showed it anyway.
_POINT_COLUMNS = (
    "INSERT INTO perf_values (object_id, at, label, value, uom, warn, crit, min_value,"
    " max_value) SELECT ?, ?, "
)
_INSERT_POINTS_SQLITE = (
    _POINT_COLUMNS + "p.value ->> 0, p.value ->> 1, p.value ->> 2, p.value ->> 3,"
    " p.value ->> 4, p.value ->> 5, p.value ->> 6 FROM json_each(?) AS p"
    + _SAVED
    + " ORDER BY p.key"
)
_INSERT_POINTS_POSTGRES = (
    _POINT_COLUMNS + "p.v ->> 0, CAST(p.v ->> 1 AS DOUBLE PRECISION), p.v ->> 2, p.v ->> 3,"
    " p.v ->> 4, CAST(p.v ->> 5 AS DOUBLE PRECISION), CAST(p.v ->> 6 AS DOUBLE PRECISION)"
    " FROM json_array_elements(CAST(? AS JSON)) AS p(v)" + _SAVED
)
# An event of the state change saved in the same group (``record_check_result``).
_INSERT_EVENT_IF_SAVED = (
    "INSERT INTO events (system_id, begin_at, end_at, state, type, value_max, value_avg,"
    " value_min, value_sum, count, top, description, sort_key, global_msg, data)"
    " SELECT ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, {json}, ?, ?, ?, {json}" + _SAVED
)
_DOWNTIMES = (
    "SELECT id, object_id, author, comment, start_time, end_time, fixed, duration, created_at,"
    " started_at, ended_at, next_at FROM downtimes"
)


_NUMBER_OPS = {"=", "!=", "<", "<=", ">", ">="}


def _condition(where: Condition | None) -> tuple[str, list[object]]:
    """``where`` as SQL over whitelisted column names, its values as parameters."""
    if where is None:
        return "1 = 1", []
    if isinstance(where, Compare):
        numbers = where.column in FILTER_NUMBERS and isinstance(where.value, float)
        texts = where.column in FILTER_TEXTS and isinstance(where.value, str)
        if not (numbers and where.op in _NUMBER_OPS) and not (texts and where.op in ("=", "!=")):
            raise ValueError(f"cannot compare {where.column} {where.op} {where.value!r} in SQL")
        op = "<>" if where.op == "!=" else where.op
        # A number is cast, so PostgreSQL compares an integer column with a float parameter.
        value = "CAST(? AS DOUBLE PRECISION)" if numbers else "?"
        return f"{where.column} {op} {value}", [where.value]
    if isinstance(where, Not):
        inner, params = _condition(where.term)
        return f"NOT ({inner})", params
    joiner = " AND " if isinstance(where, AllOf) else " OR "
    parts = [_condition(term) for term in where.terms]
    if not parts:
        return ("1 = 1" if isinstance(where, AllOf) else "1 = 0"), []
    return joiner.join(f"({sql})" for sql, _ in parts), [p for _, ps in parts for p in ps]


def object_from_row(row: Row) -> CheckObject:
    values = list(row)
    for index in _BOOLEAN_COLUMNS:
        values[index] = bool(values[index])
    return CheckObject(*values)


def downtime_from_row(row: Row) -> DowntimeRecord:
    values = list(row)
    values[6] = bool(values[6])
    return DowntimeRecord(*values)


# A save's token must differ from every other save's, in this process and in any other hub on
# the same database: a random prefix, the process id (a forked child shares the prefix) and a
# counter, cheaper than fresh randomness per save.
_TOKEN_PREFIX = secrets.token_hex(6)
_TOKEN_COUNTER = itertools.count()


class CheckSQL(IdentitySQL):
    """Mixed into a backend that provides ``_write`` and ``_rows``."""

    async def add_check_object(
        self,
        kind: ObjectKind,
        host_name: str,
        service_description: str = "",
        *,
        freshness_threshold: float | None = None,
        max_check_attempts: int = 1,
        stale_state: int | None = None,
        stale_output: str = "",
        notes: str = "",
    ) -> CheckObject:
        if kind not in ("host", "service"):
            raise ValueError(f"kind must be host or service, not {kind!r}")
        if not host_name or (kind == "service") != bool(service_description):
            raise ValueError("a host needs a name; a service a host name and a description")
        _check_settings(freshness_threshold, max_check_attempts)
        host_id = None
        if kind == "service":
            host = await self.get_check_object(host_name)
            if host is None:
                raise NotFound(f"no host named {host_name!r}")
            host_id = host.id
        stale = stale_state if stale_state is not None else (1 if kind == "host" else 2)
        now = time.time()
        fresh = freshness_threshold is not None
        threshold = freshness_threshold or 0.0
        due = now + threshold if fresh else None
        sql = (
            "INSERT INTO check_objects (kind, host_id, host_name, service_description,"
            " check_freshness, freshness_threshold, max_check_attempts, stale_state,"
            " stale_output, notes, created_at, fresh_due_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        params = (kind, host_id, host_name, service_description, int(fresh), threshold,
                  max_check_attempts, stale, stale_output, notes, now, due)  # fmt: skip
        object_id = await self._insert(sql, params)
        return CheckObject(object_id, kind, host_id, host_name, service_description, fresh,
                           threshold, max_check_attempts, stale, stale_output, True, notes, now,
                           fresh_due_at=due)  # fmt: skip

    async def get_check_object(
        self, host_name: str, service_description: str = ""
    ) -> CheckObject | None:
        sql = f"{_OBJECTS} WHERE host_name = ? AND service_description = ?"
        rows = await self._select(sql, (host_name, service_description))
        return object_from_row(rows[0]) if rows else None

    async def configure_check_object(
        self,
        host_name: str,
        service_description: str = "",
        *,
        freshness_threshold: float | None,
        max_check_attempts: int,
        stale_state: int,
        stale_output: str,
        notes: str,
    ) -> bool:
        _check_settings(freshness_threshold, max_check_attempts)
        fresh = freshness_threshold is not None
        threshold = freshness_threshold or 0.0
        sql = (
            "UPDATE check_objects SET check_freshness = ?, freshness_threshold = ?,"
            " max_check_attempts = ?, stale_state = ?, stale_output = ?, notes = ?,"
            " fresh_due_at = CASE WHEN ttl IS NOT NULL THEN fresh_due_at"
            " WHEN ? = 0 OR is_stale = 1 THEN CAST(NULL AS DOUBLE PRECISION)"
            " ELSE coalesce(last_check, ?) + ? END,"
            " version = version + 1 WHERE host_name = ? AND service_description = ?"
        )
        params = (int(fresh), threshold, max_check_attempts, stale_state, stale_output, notes,
                  int(fresh), time.time(), threshold, host_name, service_description)  # fmt: skip
        return await self._change(sql, params) > 0

    async def check_object_by_id(self, object_id: int) -> CheckObject | None:
        rows = await self._select(f"{_OBJECTS} WHERE id = ?", (object_id,))
        return object_from_row(rows[0]) if rows else None

    async def list_check_objects(
        self, kind: ObjectKind | None = None, *, host_name: str | None = None
    ) -> list[CheckObject]:
        sql = (
            f"{_OBJECTS} WHERE (? IS NULL OR kind = ?) AND (? IS NULL OR host_name = ?)"
            " ORDER BY host_name, service_description"
        )
        if self._placeholder != "?":  # PostgreSQL wants the parameters' types
            sql = sql.replace("(? IS NULL", "(?::text IS NULL")
        rows = await self._select(sql, (kind, kind, host_name, host_name))
        return [object_from_row(row) for row in rows]

    async def select_check_objects(
        self,
        kind: ObjectKind,
        where: Condition | None = None,
        *,
        order: Sequence[tuple[str, bool]] = (),
        limit: int | None = None,
        offset: int = 0,
    ) -> list[CheckObject]:
        condition, params = _condition(where)
        keys = []
        for column, descending in order:
            if column not in FILTER_NUMBERS:
                raise ValueError(f"cannot sort by {column!r} in SQL")
            keys.append(f"{column} DESC" if descending else column)
        keys += ["host_name", "service_description"]
        # Column names come from the FILTER_* whitelists, values are parameters.
        sql = f"{_OBJECTS} WHERE kind = ? AND ({condition}) ORDER BY {', '.join(keys)}"
        values: list[object] = [kind, *params]
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            values += [max(limit, 0), max(offset, 0)]
        elif offset:
            raise ValueError("an offset needs a limit")
        return [object_from_row(row) for row in await self._select(sql, values)]

    async def count_check_objects(self, kind: ObjectKind, where: Condition | None = None) -> int:
        condition, params = _condition(where)
        # Column names come from the FILTER_* whitelists, values are parameters.
        sql = f"SELECT count(*) FROM check_objects WHERE kind = ? AND ({condition})"  # noqa: S608
        rows = await self._select(sql, [kind, *params])
        return int(rows[0][0])

    async def remove_check_object(self, host_name: str, service_description: str = "") -> bool:
        sql = "DELETE FROM check_objects WHERE host_name = ? AND service_description = ?"
        return await self._change(sql, (host_name, service_description)) > 0

    async def record_check_result(
        self,
        after: CheckObject,
        result: CheckResultRecord,
        points: Sequence[PerfPoint] = (),
        *,
        only_if_due_at: float | None = None,
        events: Sequence[EventRecord] = (),
    ) -> bool:
        token = f"{_TOKEN_PREFIX}{os.getpid():x}.{next(_TOKEN_COUNTER):x}"
        state = (
            after.state, after.state_type, after.attempt, after.output, after.long_output,
            after.perfdata, int(after.has_been_checked), after.last_check,
            after.last_state_change, after.last_hard_state, after.last_hard_state_change,
            int(after.acknowledged), int(after.ack_sticky), int(after.is_stale), after.ttl,
            after.fresh_due_at, token, after.id, after.version,
        )  # fmt: skip
        history = (
            result.object_id, result.checked_at, result.state, result.state_type, result.attempt,
            result.output, result.long_output, result.perfdata, result.source, result.ttl,
            after.id, token,
        )  # fmt: skip
        save, saved_params = _SAVE_STATE, tuple[object, ...](state)
        if only_if_due_at is not None:
            save, saved_params = _SAVE_STATE_IF_DUE, (*state, only_if_due_at)
        sql = self._sql
        writes = [
            Statement(sql(save), saved_params),
            Statement(sql(_INSERT_RESULT), history, step=1),
        ]
        if points:
            where = (result.object_id, result.checked_at)
            writes.append(Statement(sql(self._points_sql()),
                                    (*where, _points_json(points), after.id, token),
                                    step=2))  # fmt: skip
        writes.extend(Statement(self._event_if_saved(), (*event_params(e), after.id, token),
                                step=3) for e in events)  # fmt: skip
        # Queued in one go, so every kind of write joins the same group commit; in steps, so a
        # group runs every result's state first, then the history rows, the points, the events.
        futures = self._queue_all(writes)
        saved, *_ = await asyncio.gather(*futures)
        return saved > 0

    def _points_sql(self) -> str:
        return _INSERT_POINTS_SQLITE if self._placeholder == "?" else _INSERT_POINTS_POSTGRES

    def _event_if_saved(self) -> str:
        json = "?" if self._placeholder == "?" else "CAST(? AS JSONB)"
        return self._sql(_INSERT_EVENT_IF_SAVED.format(json=json))

    async def check_results(self, object_id: int, *, limit: int = 100) -> list[CheckResultRecord]:
        sql = (
            "SELECT id, object_id, checked_at, state, state_type, attempt, output, long_output,"
            " perfdata, source, ttl FROM check_results WHERE object_id = ?"
            " ORDER BY checked_at DESC, id DESC LIMIT ?"
        )
        rows = await self._select(sql, (object_id, max(limit, 0)))
        return [CheckResultRecord(*row) for row in rows]

    async def perf_series(
        self, object_id: int, label: str, *, since: float | None = None
    ) -> list[tuple[float, float | None]]:
        sql = (
            "SELECT at, value FROM perf_values WHERE object_id = ? AND label = ? AND at >= ?"
            " ORDER BY at, id"
        )
        low = -float("inf") if since is None else since
        rows = await self._select(sql, (object_id, label, low))
        return [(float(at), value) for at, value in rows]

    async def due_check_objects(self, now: float, *, limit: int = 500) -> list[CheckObject]:
        sql = (
            f"{_OBJECTS} WHERE fresh_due_at IS NOT NULL AND fresh_due_at <= ?"
            " ORDER BY fresh_due_at LIMIT ?"
        )
        return [object_from_row(row) for row in await self._select(sql, (now, max(limit, 0)))]

    async def next_due(self) -> float | None:
        rows = await self._select(
            "SELECT min(t) FROM (SELECT (SELECT fresh_due_at FROM check_objects"
            " WHERE fresh_due_at IS NOT NULL ORDER BY fresh_due_at LIMIT 1) AS t"
            " UNION ALL SELECT (SELECT next_at FROM downtimes WHERE next_at IS NOT NULL"
            " ORDER BY next_at LIMIT 1)) x",
            (),
        )
        return None if rows[0][0] is None else float(rows[0][0])

    async def set_acknowledgement(
        self,
        object_id: int,
        author: str,
        comment: str,
        *,
        sticky: bool,
        notify: bool,
        persistent: bool,
        at: float,
    ) -> int:
        sql = (
            "INSERT INTO acknowledgements (object_id, author, comment, sticky, notify,"
            " persistent, created_at) VALUES (?, ?, ?, ?, ?, ?, ?)"
        )
        params = (object_id, author, comment, int(sticky), int(notify), int(persistent), at)
        flag = (
            "UPDATE check_objects SET acknowledged = 1, ack_sticky = ?, version = version + 1"
            " WHERE id = ?"
        )
        ack_id, _ = await asyncio.gather(
            self._insert(sql, params), self._change(flag, (int(sticky), object_id))
        )
        return ack_id

    async def remove_acknowledgement(self, object_id: int, at: float) -> bool:
        flag = (
            "UPDATE check_objects SET acknowledged = 0, ack_sticky = 0, version = version + 1"
            " WHERE id = ? AND acknowledged = 1"
        )
        ended = (
            "UPDATE acknowledgements SET removed_at = ? WHERE object_id = ? AND removed_at IS NULL"
        )
        changed, _ = await asyncio.gather(
            self._change(flag, (object_id,)), self._change(ended, (at, object_id))
        )
        return changed > 0

    async def add_downtime(
        self,
        object_id: int,
        author: str,
        comment: str,
        *,
        start_time: float,
        end_time: float,
        fixed: bool,
        duration: float,
        at: float,
    ) -> DowntimeRecord:
        if end_time <= start_time:
            raise ValueError("end_time must be after start_time")
        sql = (
            "INSERT INTO downtimes (object_id, author, comment, start_time, end_time, fixed,"
            " duration, created_at, next_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)"
        )
        params = (object_id, author, comment, start_time, end_time, int(fixed), duration, at,
                  start_time)  # fmt: skip
        downtime_id = await self._insert(sql, params)
        return DowntimeRecord(downtime_id, object_id, author, comment, start_time, end_time,
                              fixed, duration, at, None, None, start_time)  # fmt: skip

    async def get_downtime(self, downtime_id: int) -> DowntimeRecord | None:
        sql = f"{_DOWNTIMES} WHERE id = ?"
        rows = await self._select(sql, (downtime_id,))
        return downtime_from_row(rows[0]) if rows else None

    async def list_downtimes(self, object_id: int) -> list[DowntimeRecord]:
        sql = f"{_DOWNTIMES} WHERE object_id = ? AND next_at IS NOT NULL ORDER BY start_time, id"
        return [downtime_from_row(row) for row in await self._select(sql, (object_id,))]

    async def pending_downtimes(self, *, limit: int = 1000) -> list[DowntimeRecord]:
        sql = f"{_DOWNTIMES} WHERE next_at IS NOT NULL ORDER BY object_id, start_time, id LIMIT ?"
        return [downtime_from_row(row) for row in await self._select(sql, (max(limit, 0),))]

    async def due_downtimes(self, now: float, *, limit: int = 500) -> list[DowntimeRecord]:
        sql = f"{_DOWNTIMES} WHERE next_at IS NOT NULL AND next_at <= ? ORDER BY next_at LIMIT ?"
        return [downtime_from_row(row) for row in await self._select(sql, (now, max(limit, 0)))]

    async def move_downtime(
        self,
        downtime: DowntimeRecord,
        *,
        started_at: float | None,
        ended_at: float | None,
        next_at: float | None,
        depth_change: int,
    ) -> bool:
        sql = (
            "UPDATE downtimes SET started_at = ?, ended_at = ?, next_at = ?"
            " WHERE id = ? AND next_at = ?"
        )
        params = (started_at, ended_at, next_at, downtime.id, downtime.next_at)
        if not await self._change(sql, params):
            return False
        if depth_change:
            depth = (
                "UPDATE check_objects SET downtime_depth = max_of(downtime_depth + ?, 0),"
                " version = version + 1 WHERE id = ?"
            )
            greatest = "max" if self._placeholder == "?" else "greatest"
            await self._change(
                depth.replace("max_of", greatest), (depth_change, downtime.object_id)
            )
        return True


def _check_settings(freshness_threshold: float | None, max_check_attempts: int) -> None:
    if freshness_threshold is not None and not 0 < freshness_threshold <= MAX_WINDOW_SECONDS:
        raise ValueError(
            f"freshness_threshold must be from 0 to {MAX_WINDOW_SECONDS:.0f} seconds (excluding 0)"
        )
    if not 1 <= max_check_attempts <= MAX_CHECK_ATTEMPTS:
        raise ValueError(f"max_check_attempts must be an integer from 1 to {MAX_CHECK_ATTEMPTS}")


def _points_json(points: Sequence[PerfPoint]) -> str:
    rows = [(p.label, p.value, p.uom, p.warn, p.crit, p.min, p.max) for p in points]
    try:
        return orjson.dumps(rows).decode()
    except orjson.JSONEncodeError as exc:  # a lone surrogate (text from argv, say)
        raise InvalidInput(f"perfdata that cannot be stored as text: {exc}") from None
