"""Storage: one ``Store`` protocol, a SQLite and a PostgreSQL backend, chosen by URL.

``open_store`` only builds the store; ``await store.open()`` connects, migrates and starts the
writer, and ``await store.close()`` commits every accepted write before it returns.
"""

from __future__ import annotations

from typing import Any

from .base import EventRecord, SnapshotRecord, Store, SystemRecord
from .errors import (
    Conflict,
    MigrationError,
    NotFound,
    StoreError,
    StoreOverloaded,
    StoreUnavailable,
)
from .postgres import PostgresStore
from .sqlite import SQLiteStore
from .writer import GroupCommitWriter

__all__ = [
    "Conflict",
    "EventRecord",
    "GroupCommitWriter",
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
    "open_store",
]

_POSTGRES_SCHEMES = ("postgresql", "postgres")


def open_store(url: str, **options: Any) -> Store:
    """Build the store a URL names; ``options`` go to the backend's constructor.

    ``sqlite://`` is followed by a file path: ``sqlite:///abs/path.db`` (absolute) or
    ``sqlite://relative/path.db`` (relative to the working directory; ``sqlite:relative.db``
    too). ``postgresql://...`` and ``postgres://...`` are libpq connection URLs.
    """
    scheme, colon, rest = url.partition(":")
    if not colon:
        raise ValueError(f"not a store URL (no scheme): {url!r}")
    scheme = scheme.lower()
    if scheme == "sqlite":
        return SQLiteStore(_sqlite_path(rest), **options)
    if scheme in _POSTGRES_SCHEMES:
        return PostgresStore(url, **options)
    raise ValueError(
        f"unsupported store URL scheme {scheme!r}: use sqlite:///path or postgresql://..."
    )


def _sqlite_path(rest: str) -> str:
    path = rest.removeprefix("//")
    if not path:
        raise ValueError("sqlite URL without a path: use sqlite:///path/to/file.db")
    # sqlite:////abs (a common result of f"sqlite:///{abs_path}") means /abs, not //abs.
    if path.startswith("//"):
        path = "/" + path.lstrip("/")
    return path
