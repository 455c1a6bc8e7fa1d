"""The order ``query_sql.order_by_sql`` gives PostgreSQL, as a Python sort key over records.

For sorts on paths the database cannot read (packed JSON, ``query_split``): a JSON value sorts
by type first (missing/null, numbers, strings, objects, arrays, booleans), then strings by code
point (the "C" collation), then as jsonb orders values of one type; a column by its value with
NULL last (PostgreSQL's ascending order; reversed, first). The id breaks ties in the last key's
direction.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from .query_errors import InvalidQuery
from .query_eval import missing, resolve
from .query_paths import Segment, parse_path
from .query_sort import SortKey

__all__ = ["Descending", "record_key"]

Key = tuple[Any, ...]


class Descending:
    """A sort key part compared the other way round."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value

    def __lt__(self, other: Descending) -> bool:
        return bool(other.value < self.value)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Descending) and bool(self.value == other.value)

    def __hash__(self) -> int:
        return hash(self.value)


def _rank(value: Any) -> int:
    if value is missing or value is None:
        return 0
    if isinstance(value, bool):
        return 5
    if isinstance(value, int | float):
        return 1
    if isinstance(value, str):
        return 2
    return 3 if isinstance(value, dict) else 4


def _jsonb(value: Any) -> Key:
    """jsonb's order within one type: arrays and objects by size, then element by element
    (object keys in jsonb's storage order: shorter first, then bytewise)."""
    if value is missing or value is None:
        return (0,)
    if isinstance(value, bool):
        return (3, value)
    if isinstance(value, int | float):
        return (2, value)
    if isinstance(value, str):
        return (1, value)
    if isinstance(value, list):
        return (4, len(value), tuple(_jsonb(item) for item in value))
    keys = sorted(value, key=lambda k: (len(k.encode()), k.encode()))
    pairs = tuple(part for k in keys for part in ((len(k.encode()), k.encode()), _jsonb(value[k])))
    return (5, len(value), pairs)


def _json_key(value: Any) -> Key:
    return (_rank(value), value if isinstance(value, str) else "", _jsonb(value))


def _column_key(value: Any) -> Key:
    return (value is None, 0 if value is None else value)


def _column_part(name: str) -> Callable[[Mapping[str, Any]], Key]:
    return lambda record: _column_key(record.get(name))


def _json_part(path: tuple[Segment, ...]) -> Callable[[Mapping[str, Any]], Key]:
    return lambda record: _json_key(resolve(record, path))


def record_key(
    sort: tuple[SortKey, ...], id_name: str
) -> Callable[[Mapping[str, Any]], tuple[Any, ...]]:
    """The key of a raw record (``Collection.raw_record``) under ``sort``."""
    parts: list[tuple[Callable[[Mapping[str, Any]], Key], bool]] = []
    for key in sort:
        if key.target.column is not None:
            parts.append((_column_part(key.target.name), key.descending))
        else:
            parts.append((_json_part(parse_path(key.target.name, InvalidQuery)), key.descending))
    parts.append((_column_part(id_name), bool(sort) and sort[-1].descending))

    def record_order(record: Mapping[str, Any]) -> tuple[Any, ...]:
        return tuple(Descending(f(record)) if down else f(record) for f, down in parts)

    return record_order
