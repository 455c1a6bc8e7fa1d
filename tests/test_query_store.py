"""Translated filters over the tables the real migrations create (TEXT JSON on SQLite; on
PostgreSQL packed JSON since 0015, which the hub filters and sorts), with snapshots written
through the store itself."""

from __future__ import annotations

import dataclasses
import sqlite3
from typing import Any

import psycopg
import pytest

from fleetwatch.api.lists_hub import Scan, hub_page
from fleetwatch.store import Store
from fleetwatch.store.listing import COLLECTIONS, SNAPSHOT_FIELDS
from fleetwatch.store.query import (
    Dialect,
    order_by_sql,
    parse_query,
    parse_sort,
    register_sqlite_functions,
    where_sql,
)
from fleetwatch.store.query_split import HubPlan, translate

pytestmark = pytest.mark.anyio

# The migrated schema has no summary column yet: summary.* is read from the document here.
FIELDS = dataclasses.replace(SNAPSHOT_FIELDS, json_columns={}, scalar_names=frozenset())
STATISTICS = COLLECTIONS["statistics"]
SELECT = "SELECT s.id FROM snapshots AS s JOIN systems AS y ON y.id = s.system_id"


# The statistics records without their summary field: summary.* comes from the document.
DOCUMENT_ONLY = dataclasses.replace(
    STATISTICS, fields=tuple(f for f in STATISTICS.fields if f.name != "summary")
)


async def _hub_ids(store: Store, query: str, sort: str) -> list[int]:
    """PostgreSQL: the SQL part in the database, the rest (every document path) in the hub."""
    assert DOCUMENT_ONLY.packed is not None
    fields = DOCUMENT_ONLY.field_map
    where, order, plan = translate(
        parse_query(query, fields), parse_sort(sort, fields), fields, "postgres",
        DOCUMENT_ONLY.packed,
    )  # fmt: skip
    if plan is None:
        plan = HubPlan(None, None)
    scan = Scan(store, DOCUMENT_ONLY, where, order, lambda: 10.0)
    rows, total, estimated = await hub_page(scan, plan, offset=0, count=100, cap=100,
                                            total=_no_total)  # fmt: skip
    assert (total, estimated) == (len(rows), False)
    return [int(row[0]) for row in rows]


async def _no_total() -> tuple[int, bool]:
    raise AssertionError("a few rows are counted exactly")


def _ids(store_url: str, query: str, sort: str) -> list[int]:
    dialect: Dialect = "sqlite" if store_url.startswith("sqlite") else "postgres"
    where = where_sql(parse_query(query, FIELDS), dialect)
    order = order_by_sql(parse_sort(sort, FIELDS), FIELDS, dialect)
    text = f"{SELECT} WHERE {where.text} ORDER BY {order.text}"
    params = {**where.params, **order.params}
    rows: list[Any]
    if dialect == "sqlite":
        conn = sqlite3.connect(store_url.removeprefix("sqlite:///"))
        try:
            register_sqlite_functions(conn)
            rows = conn.execute(text, params).fetchall()
        finally:
            conn.close()
    else:
        with psycopg.connect(store_url) as pg:
            rows = pg.execute(text, params).fetchall()
    return [int(row[0]) for row in rows]


async def test_filters_run_on_the_migrated_schema(store: Store, store_url: str) -> None:
    one = await store.add_system("host-1")
    two = await store.add_system("host-2")
    docs: list[tuple[int, float, dict[str, Any]]] = [
        (one.id, 100.0, {"hostname": "web-1", "cpu": [{"user": 95}], "summary": {"cpu": 95}}),
        (one.id, 200.0, {"hostname": "web-1", "cpu": [{"user": 5}], "summary": {"cpu": 5}}),
        (two.id, 150.0, {"hostname": "DB", "cpu": [], "KB/s in": 3, "it's": "x"}),
    ]
    ids = [await store.add_snapshot(s, t, doc, {}, "push") for s, t, doc in docs]
    cases = [
        ('{"system": "host-1"}', '{"createdAt": -1}', [ids[1], ids[0]]),
        ('{"cpu.0.user": {"$gt": 50}}', "", [ids[0]]),
        ('{"summary.cpu": {"$lt": 50}}', "", [ids[1]]),
        ('{"hostname": {"$regex": "^db", "$options": "i"}}', "", [ids[2]]),
        ('{"KB/s in": 3, "it\'s": "x"}', "", [ids[2]]),
        ('{"createdAt": {"$gte": {"$date": 150000}}}', '{"createdAt": 1}', [ids[2], ids[1]]),
        ('{"$nor": [{"system": "host-2"}]}', '{"summary.cpu": 1}', [ids[1], ids[0]]),
    ]
    for query, sort, expected in cases:
        if store.dialect == "postgres":
            assert await _hub_ids(store, query, sort) == expected, query
        else:
            assert _ids(store_url, query, sort) == expected, query
