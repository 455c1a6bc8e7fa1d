"""The PostgreSQL backend: several hub processes may share one database.

One connection belongs to the writer and commits each group in a single transaction, its
statements pipelined with ``executemany``; a small pool serves reads. A lost writer
connection fails its group with ``StoreUnavailable`` and is replaced when the next group comes.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import re
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from typing import Any, Literal
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

import orjson
import psycopg
from psycopg.types.json import set_json_loads
from psycopg_pool import AsyncConnectionPool

from .base import (
    EventRecord,
    SnapshotRecord,
    Statement,
    SystemRecord,
    event_from_row,
    event_params,
    in_steps,
    snapshot_hostname,
    system_from_row,
)
from .checks_sql import CheckSQL
from .errors import (
    Conflict,
    InvalidInput,
    MigrationError,
    NotFound,
    QueryTimeout,
    StoreError,
    StoreUnavailable,
)
from .fleet_sql import FleetSQL
from .hubs_sql import HubSQL
from .migrate import migrate_postgres
from .notify_sql import NotifySQL
from .packing import unpacked_snapshot
from .pg_locks import PgLocks, PgNotices
from .pg_snapshots import (
    ADD_NAMED_SNAPSHOT,
    ADD_SNAPSHOT,
    load_dictionaries,
    packed_row,
)
from .rollups_sql import RollupSQL
from .writer import GroupCommitWriter

__all__ = ["PostgresStore", "mask_password"]

logger = logging.getLogger(__name__)

Row = tuple[Any, ...]
Params = Sequence[object] | Mapping[str, object]

# The session advisory lock of the hub that runs the notification dispatcher.
_NOTIFY_LOCK_KEY = 0x666C_6565_7478

_GET_SYSTEM = (
    "SELECT id, name, hostname, source, created_at, last_seen FROM systems WHERE name = %s"
)
_LIST_SYSTEMS = (
    "SELECT id, name, hostname, source, created_at, last_seen FROM systems ORDER BY name"
)
_SYSTEM_IDS = "SELECT id FROM systems ORDER BY id"
_ADD_SYSTEM = (
    "INSERT INTO systems (name, hostname, source, created_at) VALUES (%s, %s, %s, %s) RETURNING id"
)
_REMOVE_SYSTEM = "DELETE FROM systems WHERE name = %s"
_TOUCH_SYSTEM = "UPDATE systems SET last_seen = %s, hostname = coalesce(%s, hostname) WHERE id = %s"

_SNAPSHOTS_NEWEST_FIRST = (
    "SELECT id, system_id, created_at, source, document_z, normalized_z FROM snapshots"
    " WHERE system_id = %s AND created_at >= %s AND created_at < %s"
    " ORDER BY created_at DESC, id DESC LIMIT %s"
)
_SNAPSHOTS_OLDEST_FIRST = (
    "SELECT id, system_id, created_at, source, document_z, normalized_z FROM snapshots"
    " WHERE system_id = %s AND created_at >= %s AND created_at < %s"
    " ORDER BY created_at, id LIMIT %s"
)
# Pairs of snapshot_hostnames a hub remembers having recorded (~150 bytes each).
NAMED_KEPT = 100_000
_UNPACK_INLINE = 50  # snapshots unpacked on the event loop; more go to a thread
_COUNT_SNAPSHOTS = "SELECT count(*) FROM snapshots"
_COUNT_SYSTEM_SNAPSHOTS = "SELECT count(*) FROM snapshots WHERE system_id = %s"
_PRUNE_SNAPSHOTS = (
    "DELETE FROM snapshots WHERE id IN (SELECT id FROM snapshots"
    " WHERE system_id = %s AND created_at < %s ORDER BY created_at LIMIT %s)"
)

_INSERT_EVENT = (
    "INSERT INTO events (system_id, begin_at, end_at, state, type, value_max, value_avg,"
    " value_min, value_sum, count, top, description, sort_key, global_msg, data)"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s::jsonb, %s, %s, %s, %s::jsonb)"
    " RETURNING id"
)
_UPDATE_EVENT = (
    "UPDATE events SET system_id = %s, begin_at = %s, end_at = %s, state = %s, type = %s,"
    " value_max = %s, value_avg = %s, value_min = %s, value_sum = %s, count = %s,"
    " top = %s::jsonb, description = %s, sort_key = %s, global_msg = %s, data = %s::jsonb"
    " WHERE id = %s"
)
_LIST_EVENTS = (
    "SELECT id, system_id, begin_at, end_at, state, type, value_max, value_avg, value_min,"
    " value_sum, count, top, description, sort_key, global_msg, data FROM events"
    " WHERE (%(system_id)s::bigint IS NULL OR system_id = %(system_id)s)"
    " AND (NOT %(open_only)s OR end_at < 0)"
    " ORDER BY begin_at DESC, id DESC LIMIT %(limit)s"
)
# One system's: a plain equality, so a generic plan still seeks (system_id, begin_at).
_LIST_SYSTEM_EVENTS = _LIST_EVENTS.replace(
    "(%(system_id)s::bigint IS NULL OR system_id = %(system_id)s)", "system_id = %(system_id)s"
)
_DELETE_EVENTS = (
    "DELETE FROM events WHERE (%(system_id)s::bigint IS NULL OR system_id = %(system_id)s)"
    " AND (NOT %(finished_only)s OR end_at >= 0)"
    " AND (%(state)s::text IS NULL OR state = %(state)s)"
)


class PostgresStore(FleetSQL, RollupSQL, CheckSQL, NotifySQL, HubSQL):
    """A ``Store`` in a PostgreSQL database; ``url`` is a ``postgresql://`` connection URL."""

    _placeholder = "%s"
    _returning_id = True
    dialect: Literal["sqlite", "postgres"] = "postgres"

    def __init__(
        self,
        url: str,
        *,
        max_batch: int = 500,
        max_delay_seconds: float = 0.0,
        max_queue: int = 10_000,
        on_commit: Callable[[float], None] | None = None,
        pool_min_size: int = 1,
        pool_max_size: int = 4,
        connect_timeout_seconds: float = 5.0,
    ) -> None:
        self.url = mask_password(url)
        self._conninfo = url
        self._max_batch = max_batch
        self._max_delay = max_delay_seconds
        self._max_queue = max_queue
        self._on_commit = on_commit
        self._pool_min_size = pool_min_size
        self._pool_max_size = pool_max_size
        # libpq's connect_timeout counts whole seconds and treats values below 2 as 2.
        self._connect_timeout = max(2, round(connect_timeout_seconds))
        self._write_conn: psycopg.AsyncConnection[Row] | None = None
        self._pool: AsyncConnectionPool | None = None
        # (system id, hostname) pairs this hub has seen recorded in snapshot_hostnames.
        self._named: set[tuple[int, str]] = set()
        self._writer: GroupCommitWriter[Statement, int] | None = None
        self._lead_conn: psycopg.AsyncConnection[Row] | None = None
        self._locks = PgLocks(url, self._connect_timeout)
        self._notices = PgNotices(url, self._connect_timeout)

    async def open(self) -> None:
        try:
            await migrate_postgres(await self._writer_connection())
            await load_dictionaries(await self._writer_connection())
            self._pool = await self._open_pool()
        except psycopg.Error as exc:
            await self._discard_writer_connection()
            raise self._translate(exc, fallback=MigrationError) from exc
        except BaseException:
            await self._discard_writer_connection()
            raise
        self._writer = GroupCommitWriter(
            self._apply,
            max_batch=self._max_batch,
            max_delay_seconds=self._max_delay,
            max_queue=self._max_queue,
            on_commit=self._on_commit,
        )
        self._writer.start()

    async def close(self) -> None:
        if self._writer is not None:
            await self._writer.close()
            self._writer = None
        if self._pool is not None:
            await self._pool.close()
            self._pool = None
        await self._discard_writer_connection()
        await self.give_up_lead()
        await self._locks.close()
        await self._notices.close_unlocked()

    async def hold_lock(self, name: str) -> bool:
        try:
            return await self._locks.hold(name)
        except psycopg.Error as exc:
            raise self._translate(exc) from exc

    @contextlib.asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[None]:
        try:
            async with self._locks.exclusive(name):
                yield
        except psycopg.Error as exc:
            raise self._translate(exc) from exc

    async def wait_changes(self, channel: str, seconds: float) -> bool:
        return await self._notices.wait(channel, seconds)

    async def try_lead(self) -> bool:
        # A session advisory lock on a connection of its own: held while the connection lives,
        # released by the server when this process dies, so another hub takes over.
        conn = self._lead_conn
        try:
            if conn is None or conn.closed:
                conn = self._lead_conn = await psycopg.AsyncConnection.connect(
                    self._conninfo, autocommit=True, connect_timeout=self._connect_timeout
                )
            cursor = await conn.execute("SELECT pg_try_advisory_lock(%s)", (_NOTIFY_LOCK_KEY,))
            row = await cursor.fetchone()
        except psycopg.Error as exc:
            if conn is not None:
                await conn.close()
            self._lead_conn = None
            raise self._translate(exc) from exc
        return bool(row and row[0])

    async def give_up_lead(self) -> None:
        lead, self._lead_conn = self._lead_conn, None
        if lead is not None:
            await lead.close()  # the server releases the session's advisory lock

    # -- systems

    async def add_system(
        self, name: str, *, hostname: str | None = None, source: str = "push"
    ) -> SystemRecord:
        created_at = time.time()
        system_id = await self._write(
            Statement(_ADD_SYSTEM, (name, hostname, source, created_at), returns_id=True)
        )
        return SystemRecord(system_id, name, hostname, source, created_at, None)

    async def get_system(self, name: str) -> SystemRecord | None:
        rows = await self._rows(_GET_SYSTEM, (name,))
        return system_from_row(rows[0]) if rows else None

    async def list_systems(self) -> list[SystemRecord]:
        return [system_from_row(row) for row in await self._rows(_LIST_SYSTEMS, ())]

    async def remove_system(self, name: str) -> bool:
        return await self._write(Statement(_REMOVE_SYSTEM, (name,))) > 0

    async def touch_system(self, system_id: int, last_seen: float, hostname: str | None) -> None:
        if not await self._write(Statement(_TOUCH_SYSTEM, (last_seen, hostname, system_id))):
            raise NotFound(f"system {system_id} does not exist")

    # -- snapshots

    async def add_snapshot(
        self,
        system_id: int,
        created_at: float,
        document: dict[str, Any],
        normalized: dict[str, Any],
        source: str,
    ) -> int:
        params = packed_row(system_id, created_at, document, normalized, source)
        hostname = snapshot_hostname(document)
        if hostname is None or (system_id, hostname) in self._named:
            return await self._write(Statement(ADD_SNAPSHOT, params, returns_id=True))
        snapshot_id = await self._write(Statement(ADD_NAMED_SNAPSHOT, params, returns_id=True))
        if len(self._named) >= NAMED_KEPT:  # a bound; forgetting only costs a lookup
            self._named.clear()
        self._named.add((system_id, hostname))
        return snapshot_id

    async def latest_snapshot(self, system_id: int) -> SnapshotRecord | None:
        found = await self.snapshots(system_id, limit=1)
        return found[0] if found else None

    async def snapshots(
        self,
        system_id: int,
        *,
        since: float | None = None,
        until: float | None = None,
        limit: int = 1000,
        newest_first: bool = True,
    ) -> list[SnapshotRecord]:
        # Infinite bounds keep one static query, its range served by the (system_id,
        # created_at) index.
        sql = _SNAPSHOTS_NEWEST_FIRST if newest_first else _SNAPSHOTS_OLDEST_FIRST
        low = -float("inf") if since is None else since
        high = float("inf") if until is None else until
        rows = await self._rows(sql, (system_id, low, high, max(limit, 0)))
        if len(rows) < _UNPACK_INLINE:
            return [unpacked_snapshot(row) for row in rows]
        # A history of a thousand snapshots takes ~30 ms to unpack: not on the event loop.
        return await asyncio.to_thread(lambda: [unpacked_snapshot(row) for row in rows])

    @property
    def pending_writes(self) -> int:
        return self._writer.pending if self._writer is not None else 0

    async def size_bytes(self) -> int:
        rows = await self._rows("SELECT pg_database_size(current_database())", ())
        return int(rows[0][0])

    async def count_snapshots(self, system_id: int | None = None) -> int:
        if system_id is None:
            rows = await self._rows(_COUNT_SNAPSHOTS, ())
        else:
            rows = await self._rows(_COUNT_SYSTEM_SNAPSHOTS, (system_id,))
        return int(rows[0][0])

    async def prune_snapshots(self, before: float, *, batch: int = 1000) -> int:
        if batch < 1:
            raise ValueError("batch must be >= 1")
        total = 0
        # Per system and per batch, so each delete is a short write the index serves and
        # ingestion's writes are committed in between.
        for (system_id,) in await self._rows(_SYSTEM_IDS, ()):
            while True:
                deleted = await self._write(Statement(_PRUNE_SNAPSHOTS, (system_id, before, batch)))
                total += deleted
                if deleted < batch:
                    break
        return total

    # -- events

    async def save_event(self, event: EventRecord) -> int:
        params = event_params(event)
        if event.id is None:
            return await self._write(Statement(_INSERT_EVENT, params, returns_id=True))
        if not await self._write(Statement(_UPDATE_EVENT, (*params, event.id))):
            raise NotFound(f"event {event.id} does not exist")
        return event.id

    async def list_events(
        self, *, system_id: int | None = None, open_only: bool = False, limit: int = 100
    ) -> list[EventRecord]:
        params = {"system_id": system_id, "open_only": open_only, "limit": max(limit, 0)}
        sql = _LIST_EVENTS if system_id is None else _LIST_SYSTEM_EVENTS
        return [event_from_row(row) for row in await self._rows(sql, params)]

    async def delete_events(
        self, *, system_id: int | None, finished_only: bool, state: str | None = None
    ) -> int:
        params = {"system_id": system_id, "finished_only": finished_only, "state": state}
        return await self._write(Statement(_DELETE_EVENTS, params))

    # -- the query API's reads

    async def select(
        self, sql: str, params: Mapping[str, object], *, time_limit: float
    ) -> list[Row]:
        if self._pool is None:
            raise StoreUnavailable(f"{self.url} is not open")
        positional: tuple[str, list[object]] | None = None
        if len(sql) > LONG_QUERY_CHARS:
            positional = await asyncio.to_thread(numbered, sql, params)
        try:
            async with self._pool.connection() as conn, conn.transaction():
                await _limit_statements(conn, time_limit)
                if positional is None:
                    cursor = await conn.execute(sql, params)
                    return await cursor.fetchall()
                raw = psycopg.AsyncRawCursor(conn)
                await raw.execute(*positional)
                return await raw.fetchall()
        except psycopg.errors.QueryCanceled as exc:
            raise QueryTimeout(f"the query ran past {time_limit:g} s") from exc
        except psycopg.Error as exc:
            raise self._translate(exc) from exc

    async def stream(
        self, sql: str, params: Mapping[str, object], *, batch: int, time_limit: float
    ) -> AsyncIterator[list[Row]]:
        if self._pool is None:
            raise StoreUnavailable(f"{self.url} is not open")
        try:
            # A server-side cursor in one transaction: one consistent result, fetched
            # ``batch`` rows at a time, never whole in this process.
            async with self._pool.connection() as conn, conn.transaction():
                await _limit_statements(conn, time_limit)
                async with conn.cursor(name="fleetwatch_stream") as cursor:
                    await cursor.execute(sql, params)
                    while rows := await cursor.fetchmany(batch):
                        yield rows
        except psycopg.errors.QueryCanceled as exc:
            raise QueryTimeout(f"the query ran past {time_limit:g} s") from exc
        except psycopg.Error as exc:
            raise self._translate(exc) from exc

    # -- plumbing

    async def _write(self, statement: Statement) -> int:
        if self._writer is None:
            raise StoreUnavailable(f"{self.url} is not open")
        return await self._writer.submit(statement)

    def _queue_all(self, statements: Sequence[Statement]) -> list[asyncio.Future[int]]:
        if self._writer is None:
            raise StoreUnavailable(f"{self.url} is not open")
        return self._writer.submit_all(statements)

    async def _rows(self, sql: str, params: Params) -> list[Row]:
        if self._pool is None:
            raise StoreUnavailable(f"{self.url} is not open")
        try:
            async with self._pool.connection() as conn:
                cursor = await conn.execute(sql, params)
                return await cursor.fetchall()
        except psycopg.Error as exc:
            raise self._translate(exc) from exc

    async def _open_pool(self) -> AsyncConnectionPool:
        pool = AsyncConnectionPool(
            self._conninfo,
            min_size=self._pool_min_size,
            max_size=self._pool_max_size,
            timeout=self._connect_timeout,
            kwargs={"autocommit": True, "connect_timeout": self._connect_timeout},
            configure=_configure,
            # A connection that died while idle (a server restart) is replaced at checkout
            # instead of failing a read; one round trip per checkout is cheap next to a query.
            check=AsyncConnectionPool.check_connection,
            open=False,
            name="fleetwatch-store",
        )
        try:
            await pool.open(wait=True, timeout=self._connect_timeout)
        except BaseException:
            await pool.close()
            raise
        return pool

    async def _writer_connection(self) -> psycopg.AsyncConnection[Row]:
        conn = self._write_conn
        if conn is not None and not conn.closed:
            return conn
        conn = await psycopg.AsyncConnection.connect(
            self._conninfo, autocommit=True, connect_timeout=self._connect_timeout
        )
        await _configure(conn)
        self._write_conn = conn
        return conn

    async def _discard_writer_connection(self) -> None:
        conn, self._write_conn = self._write_conn, None
        if conn is not None:
            await conn.close()

    async def _apply(self, batch: Sequence[Statement]) -> list[int]:
        try:
            conn = await self._writer_connection()
            # One pipeline for the whole group: a group that mixes statements (a check result's
            # update and inserts, interleaved result by result) is many short runs of the same
            # SQL, and each run's executemany would otherwise wait for its own round trip.
            async with conn.transaction(), conn.pipeline():
                return await _execute(conn, batch)
        except psycopg.Error as exc:
            error = self._translate(exc)
            if isinstance(error, StoreUnavailable):
                # The next group reconnects rather than reuse a connection in an unknown state.
                await self._discard_writer_connection()
            raise error from exc

    def _translate(self, exc: psycopg.Error, fallback: type[StoreError] = StoreError) -> StoreError:
        if isinstance(exc, psycopg.errors.UniqueViolation):
            return Conflict(_first_line(exc))
        if isinstance(exc, psycopg.errors.ForeignKeyViolation):
            return NotFound(f"the referenced row does not exist ({_first_line(exc)})")
        if isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError):
            return StoreUnavailable(f"{self.url} is unavailable: {_first_line(exc)}")
        if isinstance(exc, psycopg.DataError):
            # SQLSTATE class 22 (a number out of an int4 column's range, a pattern its regex
            # engine refuses) and psycopg's own refusal of U+0000 in text: the request's values.
            return InvalidInput(f"the database refused a value: {_first_line(exc)}")
        return fallback(f"{self.url}: {_first_line(exc)}")


# psycopg finds the ``%(name)s`` of a query with a regular expression in Python, on the event
# loop, and keeps the result only for queries up to 4,096 characters: a list query of 160
# ``$elemMatch`` clauses (~138 KB, sent for its count and its page) took ~7 ms of the loop each
# time, the largest share left under the hostile-request bench. Longer queries are numbered
# (``$1``...) in a thread and sent as they are.
LONG_QUERY_CHARS = 4096
_NAMED = re.compile(r"%\((\w+)\)s|%%")


def numbered(sql: str, params: Mapping[str, object]) -> tuple[str, list[object]]:
    """``sql`` with ``$n`` for each distinct ``%(name)s`` (``%%`` for ``%``), and its values."""
    order: dict[str, int] = {}

    def number(match: re.Match[str]) -> str:
        name = match.group(1)
        if name is None:
            return "%"
        if name not in order:
            order[name] = len(order) + 1
        return f"${order[name]}"

    text = _NAMED.sub(number, sql)
    try:
        return text, [params[name] for name in order]
    except KeyError as exc:
        raise StoreError(f"the query names a parameter it was not given: {exc}") from None


async def _limit_statements(conn: psycopg.AsyncConnection[Any], time_limit: float) -> None:
    """The statement timeout for this transaction, and no JIT compilation in it.

    JIT compiles a plan's expressions with LLVM before running it, and does not look at the
    statement timeout meanwhile: a filter of a few hundred ``$elemMatch`` clauses took 18 s to
    compile (on rows it then filtered in 60 ms), and 37-120 s at 300-600 clauses, past a 10 s
    timeout PostgreSQL had already logged. A list query's filter is the client's to make big.
    """
    milliseconds = str(max(1, round(time_limit * 1000)))
    await conn.execute(
        "SELECT set_config('statement_timeout', %s, true), set_config('jit', 'off', true)",
        (milliseconds,),
    )


async def _configure(conn: psycopg.AsyncConnection[Any]) -> None:
    set_json_loads(orjson.loads, conn)


async def _execute(conn: psycopg.AsyncConnection[Row], batch: Sequence[Statement]) -> list[int]:
    """Run a group's statements (by ``step``), one ``executemany`` per run of the same SQL.

    ``executemany`` pipelines its statements (one round trip, prepared once) and keeps one
    result set per statement, so each caller still gets its own id or row count.
    """
    order = in_steps(batch)
    results = [0] * len(batch)
    for sql, run in itertools.groupby(order, key=lambda index: batch[index].sql):
        indexes = list(run)
        cursor = conn.cursor()
        await cursor.executemany(sql, [batch[i].params for i in indexes], returning=True)
        for index in indexes:
            if batch[index].returns_id:
                row = await cursor.fetchone()
                assert row is not None
                results[index] = int(row[0])
            else:
                results[index] = cursor.rowcount
            cursor.nextset()
    return results


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def mask_password(url: str) -> str:
    """The URL with any password (in the user info or the query string) replaced by ``***``."""
    parts = urlsplit(url)
    netloc = parts.netloc
    userinfo, at, hostport = netloc.rpartition("@")
    if at and ":" in userinfo:
        netloc = f"{userinfo.split(':', 1)[0]}:***@{hostport}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, "***" if k == "password" else v) for k, v in pairs], safe="*")
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))
