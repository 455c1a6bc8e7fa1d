"""The query language of the list endpoints: ``query``, ``fields`` and ``sort`` to SQL.

    fields = COLLECTIONS["statistics"].field_map              # listing.py: every collection
    where = where_sql(parse_query(query_text, fields), "sqlite")
    order = order_by_sql(parse_sort(sort_text, fields), fields, "sqlite")
    projection = parse_fields(fields_text)
    rows = conn.execute(f"SELECT ... WHERE {where.text} ORDER BY {order.text} LIMIT :limit",
                        {**where.params, **order.params, "limit": count})
    records = [projection.apply(record) for record in ...]

Modules: ``query_errors`` (the three error classes), ``query_text`` (bounded JSON decoding),
``query_paths`` (dotted paths), ``query_fields`` (where names live), ``query_parse`` (the filter
grammar and its tree), ``query_sort``, ``query_project``, ``query_sql`` (the two dialects),
``query_eval`` (the reference evaluator). SQLite connections that run translated filters need
``register_sqlite_functions(conn)`` for ``REGEXP``.
"""

from __future__ import annotations

import sqlite3

from .packing import register_packing_functions
from .query_errors import InvalidFields, InvalidQuery, InvalidSort, QueryParameterError
from .query_eval import evaluate
from .query_fields import Column, FieldMap
from .query_parse import Filter, Target, parse_query, parse_query_value, resolve_target
from .query_project import Projection, parse_fields
from .query_sort import SortKey, parse_sort
from .query_sql import SQL, Dialect, order_by_sql, value_sql, where_sql
from .regex import compile_pattern

__all__ = [
    "SQL",
    "Column",
    "Dialect",
    "FieldMap",
    "Filter",
    "InvalidFields",
    "InvalidQuery",
    "InvalidSort",
    "Projection",
    "QueryParameterError",
    "SortKey",
    "Target",
    "evaluate",
    "order_by_sql",
    "parse_fields",
    "parse_query",
    "parse_query_value",
    "parse_sort",
    "register_sqlite_functions",
    "resolve_target",
    "value_sql",
    "where_sql",
]


def register_sqlite_functions(conn: sqlite3.Connection) -> None:
    """Give ``conn`` the ``regexp(pattern, text)`` function behind ``text REGEXP pattern``, and
    the packing functions that snapshots' generated columns call (``store/packing.py``)."""
    conn.create_function("regexp", 2, _regexp, deterministic=True)
    register_packing_functions(conn)


def _regexp(pattern: object, text: object) -> bool:
    # RE2, not ``re``: this runs once per row in a reader thread holding the interpreter lock,
    # so a backtracking pattern would stop the whole hub. The parser checked the pattern.
    if not isinstance(pattern, str) or not isinstance(text, str):
        return False
    return compile_pattern(pattern).search(text) is not None
