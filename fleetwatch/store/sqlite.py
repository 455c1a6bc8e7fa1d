"""The SQLite backend: one file, one writer thread, a few reader threads.

The only write connection lives in a dedicated thread and commits the writer's groups with
``BEGIN IMMEDIATE``/``COMMIT`` under ``synchronous=FULL``, so an acknowledged write is on disk.
WAL mode lets readers (their own connections, one per reader thread) and other processes (the CLI
while the hub runs) read while the writer writes; ``busy_timeout`` lets writers from several
processes take turns instead of failing.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import sqlite3
import threading
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any, Literal, TypeVar

from .base import (
    EventRecord,
    SnapshotRecord,
    Statement,
    SystemRecord,
    event_from_row,
    event_params,
    in_steps,
    snapshot_texts,
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
from .migrate import migrate_sqlite
from .notify_sql import NotifySQL
from .packing import (
    pack,
    pack_normalized,
    register_dictionary,
    register_packing_functions,
    shipped_dictionaries,
    unpacked_snapshot,
)
from .query import register_sqlite_functions
from .rollups_sql import RollupSQL
from .writer import GroupCommitWriter

__all__ = ["SQLiteStore"]

logger = logging.getLogger(__name__)

T = TypeVar("T")
Row = tuple[Any, ...]
Params = Sequence[object] | Mapping[str, object]

# Primary result codes meaning "the database cannot be used right now", not "this write is bad".
_UNAVAILABLE_CODES = {
    sqlite3.SQLITE_BUSY,
    sqlite3.SQLITE_LOCKED,
    sqlite3.SQLITE_NOMEM,
    sqlite3.SQLITE_READONLY,
    sqlite3.SQLITE_IOERR,
    sqlite3.SQLITE_FULL,
    sqlite3.SQLITE_CANTOPEN,
    sqlite3.SQLITE_PROTOCOL,
}
_CONFLICT_CODES = {sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY}

# Checkpoints run in a thread of their own: one copies the WAL into the database file and
# fsyncs it, tens of milliseconds that every queued write (and its waiting request) would
# otherwise spend behind the writer. The writer's own auto-checkpoint stays as a backstop, at a
# size the background checkpoints normally keep the WAL well below.
_CHECKPOINT_EVERY_SECONDS = 1.0
_WRITER_AUTOCHECKPOINT_PAGES = 10_000
# While another process (the notification worker, the CLI) holds the write lock, the writer
# asks again this often. SQLite's own busy handler sleeps longer at each try, up to 100 ms at a
# time, whatever the lock's holder does meanwhile: with the notification worker committing every
# few milliseconds (10,000 systems coming back at once, each ending a STALE event) the hub's
# writer spent 58 % of its time asleep in BEGIN, its queue filled and 2,000-2,800 pushes a
# minute were refused 503 (with the worker inline, in the hub: none).
_BEGIN_RETRY_SECONDS = 0.0005

_GET_SYSTEM = "SELECT id, name, hostname, source, created_at, last_seen FROM systems WHERE name = ?"
_LIST_SYSTEMS = (
    "SELECT id, name, hostname, source, created_at, last_seen FROM systems ORDER BY name"
)
_SYSTEM_IDS = "SELECT id FROM systems ORDER BY id"
_ADD_SYSTEM = "INSERT INTO systems (name, hostname, source, created_at) VALUES (?, ?, ?, ?)"
_REMOVE_SYSTEM = "DELETE FROM systems WHERE name = ?"
_TOUCH_SYSTEM = "UPDATE systems SET last_seen = ?, hostname = coalesce(?, hostname) WHERE id = ?"

# document, normalized and summary are generated from the packed columns (migration 0011).
_ADD_SNAPSHOT = (
    "INSERT INTO snapshots (system_id, created_at, source, document_z, normalized_z, summary_z)"
    " VALUES (?, ?, ?, ?, ?, ?)"
)
_DICTIONARIES = "SELECT id, dictionary FROM zstd_dictionaries"
_ADD_DICTIONARY = "INSERT OR IGNORE INTO zstd_dictionaries (id, dictionary) VALUES (?, ?)"
# The packed columns themselves: unpacked and derived in Python, without a round trip through
# JSON text that the generated columns would take.
_SNAPSHOTS_NEWEST_FIRST = (
    "SELECT id, system_id, created_at, source, document_z, normalized_z FROM snapshots"
    " WHERE system_id = ? AND created_at >= ? AND created_at < ?"
    " ORDER BY created_at DESC, id DESC LIMIT ?"
)
_SNAPSHOTS_OLDEST_FIRST = (
    "SELECT id, system_id, created_at, source, document_z, normalized_z FROM snapshots"
    " WHERE system_id = ? AND created_at >= ? AND created_at < ?"
    " ORDER BY created_at, id LIMIT ?"
)
_COUNT_SNAPSHOTS = "SELECT count(*) FROM snapshots"
_COUNT_SYSTEM_SNAPSHOTS = "SELECT count(*) FROM snapshots WHERE system_id = ?"
_PRUNE_SNAPSHOTS = (
    "DELETE FROM snapshots WHERE id IN (SELECT id FROM snapshots"
    " WHERE system_id = ? AND created_at < ? ORDER BY created_at LIMIT ?)"
)

_INSERT_EVENT = (
    "INSERT INTO events (system_id, begin_at, end_at, state, type, value_max, value_avg,"
    " value_min, value_sum, count, top, description, sort_key, global_msg, data)"
    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
)
_UPDATE_EVENT = (
    "UPDATE events SET system_id = ?, begin_at = ?, end_at = ?, state = ?, type = ?,"
    " value_max = ?, value_avg = ?, value_min = ?, value_sum = ?, count = ?, top = ?,"
    " description = ?, sort_key = ?, global_msg = ?, data = ? WHERE id = ?"
)
_LIST_EVENTS = (
    "SELECT id, system_id, begin_at, end_at, state, type, value_max, value_avg, value_min,"
    " value_sum, count, top, description, sort_key, global_msg, data FROM events"
    " WHERE (:system_id IS NULL OR system_id = :system_id) AND (NOT :open_only OR end_at < 0)"
    " ORDER BY begin_at DESC, id DESC LIMIT :limit"
)
# One system's: a plain equality, so the planner seeks (system_id, begin_at); the form above
# scans every event for each call (10,000 systems x 10,000 events at a restart).
_LIST_SYSTEM_EVENTS = _LIST_EVENTS.replace(
    "(:system_id IS NULL OR system_id = :system_id)", "system_id = :system_id"
)
_DELETE_EVENTS = (
    "DELETE FROM events WHERE (:system_id IS NULL OR system_id = :system_id)"
    " AND (NOT :finished_only OR end_at >= 0) AND (:state IS NULL OR state = :state)"
)


class SQLiteStore(FleetSQL, RollupSQL, CheckSQL, NotifySQL, HubSQL):
    """A ``Store`` in one SQLite file; several processes may open the same file."""

    dialect: Literal["sqlite", "postgres"] = "sqlite"

    def __init__(
        self,
        path: str | os.PathLike[str],
        *,
        max_batch: int = 500,
        max_delay_seconds: float = 0.0,
        max_queue: int = 10_000,
        on_commit: Callable[[float], None] | None = None,
        read_threads: int = 4,
        busy_timeout_seconds: float = 5.0,
    ) -> None:
        # Absolute, so reader threads opening later do not depend on the working directory.
        self.path = os.path.abspath(os.fspath(path))
        self.url = f"sqlite:///{self.path}"  # four slashes: the path is absolute
        self._busy_timeout = busy_timeout_seconds
        self._read_threads = read_threads
        self._max_batch = max_batch
        self._max_delay = max_delay_seconds
        self._max_queue = max_queue
        self._on_commit = on_commit
        self._write_thread: ThreadPoolExecutor | None = None
        self._write_conn: sqlite3.Connection | None = None
        self._read_pool: ThreadPoolExecutor | None = None
        self._read_local = threading.local()
        self._read_conns: list[sqlite3.Connection] = []
        self._read_conns_lock = threading.Lock()
        self._writer: GroupCommitWriter[Statement, int] | None = None
        self._checkpoint_thread: ThreadPoolExecutor | None = None
        self._checkpoint_conn: sqlite3.Connection | None = None
        self._checkpoints: asyncio.Task[None] | None = None
        self._wrote = False  # since the last checkpoint

    async def open(self) -> None:
        loop = asyncio.get_running_loop()
        self._write_thread = ThreadPoolExecutor(1, thread_name_prefix="fleetwatch-sqlite-writer")
        try:
            await loop.run_in_executor(self._write_thread, self._open_write_connection)
        except BaseException:
            self._write_thread.shutdown()
            self._write_thread = None
            raise
        self._read_pool = ThreadPoolExecutor(
            self._read_threads, thread_name_prefix="fleetwatch-sqlite-reader"
        )
        self._writer = GroupCommitWriter(
            self._apply,
            max_batch=self._max_batch,
            max_delay_seconds=self._max_delay,
            max_queue=self._max_queue,
            on_commit=self._on_commit,
        )
        self._writer.start()
        self._checkpoint_thread = ThreadPoolExecutor(
            1, thread_name_prefix="fleetwatch-sqlite-checkpoint"
        )
        self._checkpoints = loop.create_task(self._checkpoint_loop(), name="sqlite-checkpoint")

    async def close(self) -> None:
        if self._writer is not None:
            await self._writer.close()
            self._writer = None
        loop = asyncio.get_running_loop()
        if self._checkpoints is not None:
            self._checkpoints.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._checkpoints
            self._checkpoints = None
        if self._checkpoint_thread is not None:
            await loop.run_in_executor(self._checkpoint_thread, self._close_checkpoint_connection)
            await loop.run_in_executor(None, self._checkpoint_thread.shutdown)
            self._checkpoint_thread = None
        if self._read_pool is not None:
            await loop.run_in_executor(None, self._read_pool.shutdown)
            self._read_pool = None
            # Reader threads are gone, so closing their connections from here is safe.
            with self._read_conns_lock:
                for conn in self._read_conns:
                    conn.close()
                self._read_conns.clear()
        if self._write_thread is not None:
            await loop.run_in_executor(self._write_thread, self._close_write_connection)
            await loop.run_in_executor(None, self._write_thread.shutdown)
            self._write_thread = None

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
        params = packed_snapshot_columns(system_id, created_at, document, normalized, source)
        return await self._write(Statement(_ADD_SNAPSHOT, params, returns_id=True))

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
        return await self._read(sql, (system_id, low, high, max(limit, 0)), _snapshot_rows)

    @property
    def pending_writes(self) -> int:
        return self._writer.pending if self._writer is not None else 0

    async def size_bytes(self) -> int:
        # The database file with its write-ahead log: what the data takes on disk.
        total = 0
        for suffix in ("", "-wal"):
            with contextlib.suppress(FileNotFoundError):
                total += os.stat(self.path + suffix).st_size
        return total

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
        if self._read_pool is None:
            raise StoreUnavailable(f"{self.url} is not open")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(
            self._read_pool, self._select_sync, self._reader, sql, params, time_limit
        )

    async def stream(
        self, sql: str, params: Mapping[str, object], *, batch: int, time_limit: float
    ) -> AsyncIterator[list[Row]]:
        # A connection of its own: its read transaction stays open from the first batch to the
        # last (one consistent result) without holding a shared reader's snapshot back.
        if self._read_pool is None:
            raise StoreUnavailable(f"{self.url} is not open")
        pool, loop = self._read_pool, asyncio.get_running_loop()
        conn = await loop.run_in_executor(pool, self._stream_connection)
        try:
            cursor = await loop.run_in_executor(
                pool, self._timed, conn, time_limit, lambda: conn.execute(sql, params)
            )
            while True:
                rows = await loop.run_in_executor(
                    pool, self._timed, conn, time_limit, lambda: cursor.fetchmany(batch)
                )
                if not rows:
                    return
                yield rows
        finally:
            await loop.run_in_executor(pool, conn.close)

    def _stream_connection(self) -> sqlite3.Connection:
        conn = self._connect(check_same_thread=False)
        conn.execute("PRAGMA query_only = ON")
        register_sqlite_functions(conn)
        return conn

    def _select_sync(
        self,
        connection: Callable[[], sqlite3.Connection],
        sql: str,
        params: Mapping[str, object],
        timeout: float,
    ) -> list[Row]:
        conn = connection()
        return self._timed(conn, timeout, lambda: conn.execute(sql, params).fetchall())

    def _timed(self, conn: sqlite3.Connection, timeout: float, work: Callable[[], T]) -> T:
        # SQLite has no statement timeout; the progress handler, called every few thousand
        # virtual-machine steps, interrupts the statement once the deadline has passed.
        deadline = time.monotonic() + timeout
        conn.set_progress_handler(lambda: time.monotonic() > deadline, 20_000)
        try:
            return work()
        except sqlite3.OperationalError as exc:
            if exc.sqlite_errorcode == sqlite3.SQLITE_INTERRUPT:
                raise QueryTimeout(f"the query ran past {timeout:g} s") from exc
            raise self._translate(exc) from exc
        except (sqlite3.Error, OverflowError) as exc:
            raise self._translate(exc) from exc
        finally:
            conn.set_progress_handler(None, 0)

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
        return await self._read(sql, params, _as_is)

    async def _read(
        self,
        sql: str,
        params: Params,
        convert: Callable[[list[Row]], T],
    ) -> T:
        if self._read_pool is None:
            raise StoreUnavailable(f"{self.url} is not open")
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._read_pool, self._read_sync, sql, params, convert)

    def _read_sync(
        self,
        sql: str,
        params: Params,
        convert: Callable[[list[Row]], T],
    ) -> T:
        try:
            rows = self._reader().execute(sql, params).fetchall()
        except (sqlite3.Error, OverflowError) as exc:
            raise self._translate(exc) from exc
        return convert(rows)

    def _reader(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._read_local, "conn", None)
        if conn is None:
            # Used only by this reader thread; check_same_thread=False just lets close() reach it.
            conn = self._connect(check_same_thread=False)
            conn.execute("PRAGMA query_only = ON")
            register_sqlite_functions(conn)
            with self._read_conns_lock:
                self._read_conns.append(conn)
            self._read_local.conn = conn
        return conn

    def _connect(self, *, check_same_thread: bool = True) -> sqlite3.Connection:
        # isolation_level=None: no implicit transactions; we say BEGIN and COMMIT ourselves.
        conn = sqlite3.connect(
            self.path,
            timeout=self._busy_timeout,
            isolation_level=None,
            check_same_thread=check_same_thread,
        )
        register_packing_functions(conn)  # snapshots' generated columns call them
        return conn

    def _open_write_connection(self) -> None:
        conn: sqlite3.Connection | None = None
        try:
            conn = self._connect()
            self._enable_wal(conn)
            conn.execute("PRAGMA synchronous = FULL")
            conn.execute(f"PRAGMA wal_autocheckpoint = {_WRITER_AUTOCHECKPOINT_PAGES}")
            conn.execute("PRAGMA foreign_keys = ON")
            migrate_sqlite(conn)
            _load_dictionaries(conn)
            # From here on only _begin waits for the write lock (inside a transaction begun
            # IMMEDIATE, a statement never needs to, in WAL mode).
            conn.execute("PRAGMA busy_timeout = 0")
        except sqlite3.Error as exc:
            if conn is not None:
                conn.close()
            raise self._translate(exc, fallback=MigrationError) from exc
        except BaseException:
            if conn is not None:
                conn.close()
            raise
        self._write_conn = conn

    def _enable_wal(self, conn: sqlite3.Connection) -> None:
        # Switching to WAL needs an exclusive lock, and SQLite answers "busy" at once instead of
        # calling the busy handler (deadlock avoidance), so when two processes create the file
        # together the loser waits here, up to the busy timeout.
        deadline = time.monotonic() + self._busy_timeout
        while True:
            try:
                mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
                break
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        if mode != "wal":
            logger.warning("%s: journal_mode is %s, not wal; readers may block", self.url, mode)

    async def _checkpoint_loop(self) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(_CHECKPOINT_EVERY_SECONDS)
            if not self._wrote or self._checkpoint_thread is None:
                continue
            self._wrote = False
            try:
                await loop.run_in_executor(self._checkpoint_thread, self._checkpoint_sync)
            except sqlite3.Error as exc:  # the next one tries again; the backstop remains
                logger.debug("%s: background checkpoint failed: %s", self.url, exc)

    def _checkpoint_sync(self) -> None:
        if self._checkpoint_conn is None:
            self._checkpoint_conn = self._connect()
        # PASSIVE: copies what it can without waiting for (or blocking) the writer and readers.
        self._checkpoint_conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()

    def _close_checkpoint_connection(self) -> None:
        if self._checkpoint_conn is not None:
            self._checkpoint_conn.close()
            self._checkpoint_conn = None

    def _close_write_connection(self) -> None:
        if self._write_conn is not None:
            self._write_conn.close()
            self._write_conn = None

    async def _apply(self, batch: Sequence[Statement]) -> list[int]:
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._write_thread, self._apply_sync, batch)

    def _apply_sync(self, batch: Sequence[Statement]) -> list[int]:
        conn = self._write_conn
        if conn is None:
            raise StoreUnavailable(f"{self.url} is not open")
        try:
            self._begin(conn)
            results = [0] * len(batch)
            for index in in_steps(batch):
                results[index] = _run(conn, batch[index])
            conn.execute("COMMIT")
            self._wrote = True
        except BaseException as exc:
            # Whatever failed (a driver error, an integer the driver cannot bind, a bug), the
            # transaction ends here: left open, it refused every later write ("cannot start a
            # transaction within a transaction") until the hub was restarted.
            if conn.in_transaction:
                with contextlib.suppress(sqlite3.Error):
                    conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error | OverflowError):
                raise self._translate(exc) from exc
            raise
        return results

    def _begin(self, conn: sqlite3.Connection) -> None:
        """``BEGIN IMMEDIATE``, asking again every half millisecond while another process
        writes (the write connection's busy timeout is 0), up to the busy timeout."""
        deadline = time.monotonic() + self._busy_timeout
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                return
            except sqlite3.OperationalError as exc:
                if exc.sqlite_errorcode != sqlite3.SQLITE_BUSY or time.monotonic() > deadline:
                    raise
            time.sleep(_BEGIN_RETRY_SECONDS)

    def _translate(
        self, exc: sqlite3.Error | OverflowError, fallback: type[StoreError] = StoreError
    ) -> StoreError:
        if isinstance(exc, OverflowError):  # sqlite3 binds integers of 64 bits at most
            return InvalidInput(f"the database refused a value: {exc}")
        code = exc.sqlite_errorcode
        if code in _CONFLICT_CODES:
            return Conflict(str(exc))
        if code == sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY:
            return NotFound(f"the referenced row does not exist ({exc})")
        if code is not None and code & 0xFF in _UNAVAILABLE_CODES:
            return StoreUnavailable(f"{self.url} is unavailable: {exc}", retry_after=1.0)
        return fallback(f"{self.url}: {exc}")


def _run(conn: sqlite3.Connection, statement: Statement) -> int:
    cursor = conn.execute(statement.sql, statement.params)
    if statement.returns_id:
        assert cursor.lastrowid is not None
        return cursor.lastrowid
    return cursor.rowcount


def packed_snapshot_columns(
    system_id: int,
    created_at: float,
    document: dict[str, Any],
    normalized: dict[str, Any],
    source: str,
) -> tuple[object, ...]:
    """The parameters of ``_ADD_SNAPSHOT``: the snapshot's JSON, packed. (The hostname column
    is generated from the document.)"""
    texts = snapshot_texts(document, normalized)
    return (
        system_id,
        created_at,
        source,
        pack(texts.document),
        pack_normalized(source, document, texts.document, texts.normalized),
        pack(texts.summary_json),
    )


def _load_dictionaries(conn: sqlite3.Connection) -> None:
    """Keep every shipped dictionary in the database and know every one the database holds,
    so rows packed by another version of the hub stay readable."""
    for number, data in shipped_dictionaries().items():
        conn.execute(_ADD_DICTIONARY, (number, data))
    for number, data in conn.execute(_DICTIONARIES).fetchall():
        register_dictionary(int(number), bytes(data))


def _as_is(rows: list[Row]) -> list[Row]:
    return rows


def _snapshot_rows(rows: list[Row]) -> list[SnapshotRecord]:
    # Runs in the reader thread, so decoding big documents does not stall the event loop.
    return [unpacked_snapshot(row) for row in rows]
