"""Errors raised by the store, whatever the backend.

Driver exceptions (``sqlite3.*``, ``psycopg.*``) never leave a backend: each backend translates
them at its boundary (``raise StoreUnavailable(...) from exc``), so callers depend on this small
hierarchy only and the original error stays reachable as ``__cause__`` for the logs.

Hierarchy:

* StoreError
  + StoreUnavailable      - the database cannot be reached or opened; retry later
  | + StoreOverloaded     - the writer queue is full; retry later
  + Conflict              - a unique constraint refused the write (e.g. duplicate system name)
  + NotFound              - the row the write refers to does not exist
  + MigrationError        - the schema cannot be brought to the version this code expects
  + QueryTimeout          - a read query ran past its time limit and was cancelled
  + InvalidInput (also a ValueError) - the database refused a value: a number outside its
                           column's range, a pattern its regex engine cannot compile
"""

from __future__ import annotations

__all__ = [
    "Conflict",
    "InvalidInput",
    "MigrationError",
    "NotFound",
    "QueryTimeout",
    "StoreError",
    "StoreOverloaded",
    "StoreUnavailable",
]


class StoreError(Exception):
    """Base class of every error the store raises."""


class StoreUnavailable(StoreError):
    """The database is unreachable (connection lost, file cannot be opened, store closed).

    ``retry_after`` is the number of seconds a client should wait before trying again; the API
    turns it into a ``Retry-After`` header on its 503 answer.
    """

    def __init__(self, message: str, *, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class StoreOverloaded(StoreUnavailable):
    """The writer queue is full: the write was refused, not dropped."""


class Conflict(StoreError):
    """A unique constraint refused the write."""


class NotFound(StoreError):
    """The write refers to a row that does not exist."""


class MigrationError(StoreError):
    """The schema cannot be migrated to the version this code expects."""


class QueryTimeout(StoreError):
    """A read query (the list endpoints) ran past its limit and was cancelled."""


class InvalidInput(StoreError, ValueError):
    """The database refused a value of the request (out of range, unreadable): the client's
    mistake, a 400; the transaction it was in was rolled back."""
