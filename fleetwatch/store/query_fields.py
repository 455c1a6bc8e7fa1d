"""Where each queryable name lives: real columns or paths inside JSON columns.

A ``FieldMap`` is the one trusted input that puts identifiers into SQL: every column and JSON
column it names is written by us, never taken from a request. The query translator reuses one map
per collection (``store/listing.py`` derives each collection's map from its fields).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal

__all__ = ["Column", "ColumnKind", "FieldMap", "Key"]

ColumnKind = Literal["boolean", "integer", "number", "text", "timestamp"]


@dataclass(frozen=True, slots=True)
class Key:
    """A text column that names a row of another table: ``column`` (the row's id here) equals
    ``SELECT id FROM table WHERE name = ...``. Equality and ``$in`` filter through it."""

    column: str
    table: str
    id: str = "id"
    name: str = "name"


@dataclass(frozen=True, slots=True)
class Column:
    """A real column. ``sql`` is a trusted expression (``s.id``); ``timestamp`` columns hold epoch
    seconds and are compared with dates (ISO 8601 strings or ``{"$date": ...}``); ``boolean``
    columns hold 0 or 1 on both backends and are compared with ``true``/``false`` (or 0/1)."""

    sql: str
    kind: ColumnKind
    key: Key | None = None


@dataclass(frozen=True, slots=True)
class FieldMap:
    """Top-level names of a collection's records and where they are stored.

    * ``columns``: name -> ``Column``; such a name has no sub-paths.
    * ``json_columns``: name -> trusted SQL of a JSON column holding that name's value, so
      ``summary.cpu_percent`` is ``cpu_percent`` inside the ``summary`` column.
    * ``document``: the JSON column holding every other name (``hostname`` is ``$.hostname``
      in it); None refuses unknown names.
    * ``id_sql``: the unique column breaking ties in every ORDER BY.
    * ``scalar_names``: top-level names whose sub-fields hold scalars, never arrays (derived
      figures): their conditions skip the array-element search, so an expression index on the
      path can serve them.
    """

    columns: Mapping[str, Column]
    json_columns: Mapping[str, str] = field(default_factory=dict)
    document: str | None = None
    id_sql: str = "id"
    scalar_names: frozenset[str] = frozenset()
