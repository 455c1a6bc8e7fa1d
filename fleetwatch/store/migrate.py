"""Versioned schema migrations, applied when a store opens.

Migrations are the package's ``migrations/<dialect>/NNNN_name.sql`` files, applied in version
order, each in its own transaction together with its row in ``schema_migrations``; re-opening an
up-to-date database changes nothing. Several processes may open the same database at once (the
CLI while the hub runs, several hubs on one PostgreSQL), so each migration re-checks what is
applied after taking the database's write lock (SQLite) or an advisory lock (PostgreSQL).

Driver errors are left to the caller to translate; a failing migration carries a note naming it.
"""

from __future__ import annotations

import logging
import re
import sqlite3
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any, Literal

from .errors import MigrationError
from .packing import register_packing_functions

if TYPE_CHECKING:  # a SQLite hub never loads the PostgreSQL driver
    import psycopg

__all__ = [
    "POSTGRES_LOCK_KEY",
    "Migration",
    "load_migrations",
    "migrate_postgres",
    "migrate_sqlite",
    "split_sqlite_script",
]

logger = logging.getLogger(__name__)

Dialect = Literal["sqlite", "postgres"]

# Key of the transaction-level advisory lock that serialises migrations across hub processes.
POSTGRES_LOCK_KEY = 0x666C_6565_7477  # "fleetw"

_FILE_NAME = re.compile(r"^(?P<version>\d{4})_(?P<name>[a-z0-9_]+)\.sql$")

_SQLITE_BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    applied_at REAL NOT NULL
)"""

_POSTGRES_BOOKKEEPING = """
CREATE TABLE IF NOT EXISTS schema_migrations (
    version integer PRIMARY KEY,
    name text NOT NULL,
    applied_at double precision NOT NULL
)"""


@dataclass(frozen=True, slots=True)
class Migration:
    version: int
    name: str
    sql: str

    @property
    def label(self) -> str:
        return f"{self.version:04d}_{self.name}"


def load_migrations(dialect: Dialect) -> list[Migration]:
    """Read the dialect's migration files, in version order."""
    folder = resources.files("fleetwatch.store").joinpath("migrations", dialect)
    migrations: list[Migration] = []
    for entry in folder.iterdir():
        if not entry.name.endswith(".sql"):
            continue
        match = _FILE_NAME.match(entry.name)
        if match is None:
            raise MigrationError(f"migration file name {entry.name!r} is not NNNN_name.sql")
        migrations.append(
            Migration(int(match["version"]), match["name"], entry.read_text(encoding="utf-8"))
        )
    migrations.sort(key=lambda migration: migration.version)
    versions = [migration.version for migration in migrations]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"duplicate {dialect} migration versions in {versions}")
    return migrations


def split_sqlite_script(script: str) -> list[str]:
    """Split a script into statements, so they can run inside our own transaction.

    ``executescript`` would commit first and run outside it; ``sqlite3.complete_statement``
    knows where statements end, ``BEGIN ... END`` trigger bodies included.
    """
    statements: list[str] = []
    pending = ""
    for line in script.splitlines(keepends=True):
        pending += line
        if sqlite3.complete_statement(pending):
            statements.append(pending.strip())
            pending = ""
    if pending.strip() and not _only_comments(pending):
        raise MigrationError(f"incomplete SQL statement at the end of a migration: {pending!r}")
    return statements


def _only_comments(text: str) -> bool:
    return all(not line.strip() or line.strip().startswith("--") for line in text.splitlines())


def migrate_sqlite(conn: sqlite3.Connection) -> int:
    """Bring an autocommit SQLite connection's database up to date; return the schema version."""
    register_packing_functions(conn)  # migration 0011 packs the snapshots through them
    migrations = load_migrations("sqlite")
    applied = _sqlite_applied(conn)
    _refuse_newer(applied, migrations)
    for migration in migrations:
        if migration.version in applied:
            continue
        # IMMEDIATE takes the write lock now, so a concurrent opener waits and then sees our row.
        conn.execute("BEGIN IMMEDIATE")
        try:
            conn.execute(_SQLITE_BOOKKEEPING)
            applied = _sqlite_applied(conn)
            if migration.version not in applied:
                _apply_sqlite(conn, migration)
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
    return migrations[-1].version if migrations else 0


def _sqlite_applied(conn: sqlite3.Connection) -> set[int]:
    exists = conn.execute(
        "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'"
    ).fetchone()
    if exists is None:
        return set()
    return {row[0] for row in conn.execute("SELECT version FROM schema_migrations")}


def _apply_sqlite(conn: sqlite3.Connection, migration: Migration) -> None:
    logger.info("applying SQLite migration %s", migration.label)
    try:
        for statement in split_sqlite_script(migration.sql):
            conn.execute(statement)
    except sqlite3.Error as exc:
        exc.add_note(f"while applying migration {migration.label}")
        raise
    conn.execute(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)",
        (migration.version, migration.name, time.time()),
    )


async def migrate_postgres(conn: psycopg.AsyncConnection[Any]) -> int:
    """Bring an autocommit PostgreSQL connection's database up to date; return the version."""
    migrations = load_migrations("postgres")
    applied = await _postgres_applied(conn)
    _refuse_newer(applied, migrations)
    for migration in migrations:
        if migration.version in applied:
            continue
        async with conn.transaction():
            # Another hub starting at the same moment waits here, then finds the row we wrote.
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (POSTGRES_LOCK_KEY,))
            await conn.execute(_POSTGRES_BOOKKEEPING)
            applied = await _postgres_applied(conn)
            if migration.version not in applied:
                await _apply_postgres(conn, migration)
    return migrations[-1].version if migrations else 0


async def _postgres_applied(conn: psycopg.AsyncConnection[Any]) -> set[int]:
    cursor = await conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL")
    row = await cursor.fetchone()
    if row is None or not row[0]:
        return set()
    cursor = await conn.execute("SELECT version FROM schema_migrations")
    return {version for (version,) in await cursor.fetchall()}


async def _apply_postgres(conn: psycopg.AsyncConnection[Any], migration: Migration) -> None:
    import psycopg  # noqa: PLC0415 - see the import at the top

    logger.info("applying PostgreSQL migration %s", migration.label)
    try:
        # Without parameters psycopg sends each part as one multi-statement query; between
        # parts, the hub's own steps (what SQL cannot do), all in the migration's transaction.
        parts = _STEP.split(migration.sql)
        for index, part in enumerate(parts):
            if index % 2:
                await _postgres_step(part)(conn)
            elif part.strip():
                await conn.execute(part.encode())
    except psycopg.Error as exc:
        exc.add_note(f"while applying migration {migration.label}")
        raise
    await conn.execute(
        "INSERT INTO schema_migrations (version, name, applied_at) VALUES (%s, %s, %s)",
        (migration.version, migration.name, time.time()),
    )


# A line ``-- fleetwatch-step: NAME`` in a PostgreSQL migration runs the hub's step NAME there.
_STEP = re.compile(r"^-- fleetwatch-step: ([a-z_]+)$", re.MULTILINE)


def _postgres_step(name: str) -> Callable[[psycopg.AsyncConnection[Any]], Awaitable[None]]:
    from . import pg_snapshots  # noqa: PLC0415 - psycopg only for PostgreSQL

    steps = {"pack_snapshots": pg_snapshots.pack_snapshots}
    if name not in steps:
        raise MigrationError(f"unknown migration step {name!r}")
    return steps[name]


def _refuse_newer(applied: set[int], migrations: list[Migration]) -> None:
    known = migrations[-1].version if migrations else 0
    if applied and max(applied) > known:
        raise MigrationError(
            f"the database schema is at version {max(applied)}, newer than this Fleetwatch "
            f"knows ({known}); upgrade Fleetwatch"
        )
