"""Storage: one ``Store`` protocol, a SQLite and a PostgreSQL backend, chosen by URL.

``open_store`` only builds the store; ``await store.open()`` connects, migrates and starts the
writer, and ``await store.close()`` commits every accepted write before it returns.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .base import EventRecord, SnapshotRecord, Store, SystemRecord
from .errors import (
    Conflict,
    InvalidInput,
    MigrationError,
    NotFound,
    StoreError,
    StoreOverloaded,
    StoreUnavailable,
)
from .identity import (
    AuditRecord,
    GroupRecord,
    SystemTokenRecord,
    UserRecord,
    UserTokenRecord,
)
from .sqlite import SQLiteStore
from .writer import GroupCommitWriter

if TYPE_CHECKING:
    from .postgres import PostgresStore

__all__ = [
    "AuditRecord",
    "Conflict",
    "EventRecord",
    "GroupCommitWriter",
    "GroupRecord",
    "InvalidInput",
    "MigrationError",
    "NotFound",
    "PostgresStore",
    "SQLiteStore",
    "SnapshotRecord",
    "Store",
    "StoreError",
    "StoreOverloaded",
    "StoreUnavailable",
    "SystemRecord",
    "SystemTokenRecord",
    "UserRecord",
    "UserTokenRecord",
    "open_store",
]

_POSTGRES_SCHEMES = ("postgresql", "postgres")


def __getattr__(name: str) -> Any:
    # The PostgreSQL driver (psycopg and libpq, ~20 MiB resident) loads only for a hub that
    # uses it, or for whoever asks for PostgresStore by name.
    if name == "PostgresStore":
        from .postgres import PostgresStore  # noqa: PLC0415

        return PostgresStore
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def open_store(url: str, **options: Any) -> Store:
    """Build the store a URL names; ``options`` go to the backend's constructor.

    SQLite URLs are ``sqlite:///`` followed by the file's path, as in SQLAlchemy:
    ``sqlite:////var/lib/fleetwatch/fw.db`` (absolute: the path starts with ``/``) or
    ``sqlite:///data/fw.db`` (relative to the working directory).
    ``postgresql://...`` and ``postgres://...`` are libpq connection URLs.
    """
    scheme, colon, _ = url.partition(":")
    if not colon:
        raise ValueError(f"not a store URL (no scheme): {url!r}")
    scheme = scheme.lower()
    if scheme == "sqlite":
        return SQLiteStore(_sqlite_path(url), **options)
    if scheme in _POSTGRES_SCHEMES:
        from .postgres import PostgresStore  # noqa: PLC0415 - see __getattr__

        return PostgresStore(url, **options)
    raise ValueError(
        f"unsupported store URL scheme {scheme!r}: use sqlite:///path or postgresql://..."
    )


def _sqlite_path(url: str) -> str:
    prefix, _, path = url.partition(":///")
    if prefix.lower() != "sqlite" or not path:
        raise ValueError(f"a SQLite URL is sqlite:/// followed by a file path, not {url!r}")
    if path == ":memory:":
        # Each connection would get its own empty database: the writer's and the readers'.
        raise ValueError("in-memory SQLite is not supported; give a file path")
    return path
