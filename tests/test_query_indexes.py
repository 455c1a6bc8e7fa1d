"""The list endpoints' common forms use the indexes of migration 0004 (EXPLAIN on both
backends), the migration fills summary and hostname of older snapshots as summary_of() does, and
a query past its time limit is cancelled."""

from __future__ import annotations

import sqlite3
from typing import Any

import orjson
import psycopg
import pytest

from fleetwatch.model.summary import SUMMARY_FIGURES, summary_of
from fleetwatch.store import Store, open_store
from fleetwatch.store.errors import QueryTimeout
from fleetwatch.store.listing import COLLECTIONS, count_sql, page_sql
from fleetwatch.store.migrate import load_migrations
from fleetwatch.store.packing import json_value
from fleetwatch.store.pg_snapshots import HOSTNAME_SYSTEMS
from fleetwatch.store.query import SQL, Dialect, parse_query, parse_sort
from fleetwatch.store.query_split import named_values, translate

pytestmark = pytest.mark.anyio

STATISTICS = COLLECTIONS["statistics"]

# (query, sort, the index that must serve it)
COMMON = [
    ('{"system": "host-3"}', '{"createdAt": -1}', "snapshots_system_created"),
    ("{}", '{"createdAt": -1}', "snapshots_created"),
    # PostgreSQL: the system that sent the hostname, then its index (migration 0018).
    ('{"hostname": "web-3"}', '{"createdAt": -1}', "snapshots_hostname_created|system_created"),
    # ... and counts its matches on the hostname alone, without reading them.
    ('{"hostname": "web-3"}', None, "snapshots_hostname_created|hostname"),
    ('{"summary.cpu_percent": {"$gt": 90}}', None, "snapshots_cpu_percent"),
    ('{"summary.mem_percent": {"$lte": 10}}', None, "snapshots_mem_percent"),
    ('{"createdAt": {"$gte": "2026-01-01"}}', None, "snapshots_created"),
]


async def _page(store: Store, query: str, sort: str | None) -> SQL:
    fields = STATISTICS.field_map
    # PostgreSQL's summary is packed (0015): its indexed figures are columns of their own;
    # a hostname is looked up among the systems that sent it (0018), as the list API does.
    packed = STATISTICS.packed if store.dialect == "postgres" else None
    parsed, order_by = parse_query(query, fields), parse_sort(sort, fields)
    names = None
    if packed is not None and sort is not None:  # a count does not go through the systems
        wanted = sorted(named_values(parsed, packed))
        rows = await store.select(HOSTNAME_SYSTEMS, {"names": wanted}, time_limit=5)
        names = {str(name): (int(system_id),) for name, system_id in rows}
    where, order, plan = translate(parsed, order_by, fields, store.dialect, packed, names)
    assert plan is None  # all in SQL
    if sort is None:  # the count that totals use: no ORDER BY
        return count_sql(STATISTICS, where, store.dialect, cap=10_000)
    return page_sql(STATISTICS, where, order, store.dialect, offset=0, limit=50)


@pytest.mark.parametrize(("query", "sort", "index"), COMMON, ids=[c[0] + str(c[1]) for c in COMMON])
async def test_common_forms_use_their_index(
    store: Store, store_url: str, query: str, sort: str | None, index: str
) -> None:
    for n in range(20):
        system = await store.add_system(f"host-{n}")
        normalized = {"cpu": {"total": n * 5.0}, "mem": {"percent": 50}}
        await store.add_snapshot(
            system.id, 1000.0 + n, {"hostname": f"web-{n}"}, normalized, "push"
        )
    sql = await _page(store, query, sort)
    if store.dialect == "sqlite":
        rows = await store.select("EXPLAIN QUERY PLAN " + sql.text, sql.params, time_limit=5)
        plan = "\n".join(str(row[-1]) for row in rows)
        assert "TEMP B-TREE FOR ORDER BY" not in plan, plan
    else:
        # Tiny tables make a sequential scan cheapest; with it priced out, the plan shows that
        # the index can serve the query (bench/query.py shows the planner choosing it on 1M rows).
        with psycopg.connect(store_url, autocommit=True) as conn:
            conn.execute("SET enable_seqscan = off")
            if "|" in index:  # and with sorting priced out: the index walk is in order
                conn.execute("SET enable_sort = off")
            rows = conn.execute("EXPLAIN " + sql.text, sql.params).fetchall()
            plan = "\n".join(str(row[0]) for row in rows)
    sqlite_index, _, postgres_suffix = index.partition("|")
    if store.dialect == "postgres" and postgres_suffix:
        if sort is not None:  # newest first along the index: no sort of the system's rows
            assert f"Index Scan Backward using snapshots_{postgres_suffix}" in plan, plan
        else:
            assert f"Index Only Scan using snapshots_{postgres_suffix} on" in plan, plan
    else:
        assert sqlite_index in plan, plan


OLD_SNAPSHOTS: list[tuple[dict[str, Any], dict[str, Any]]] = [
    ({"hostname": "nas1"},
     {"cpu": {"total": 42.5}, "mem": {"percent": 61.2, "total": 8_000_000}, "load": {"min1": 0.7},
      "memswap": {"percent": 3}, "percpu": [{}, {}, {}, {}],
      "fs": [{"size": 1000, "used": 250}, {"size": 3000, "used": 1000}, "junk"]}),
    ({"system": {"hostname": "hub"}}, {"cpu": {"total": "n/a"}, "fs": [], "percpu": []}),
    ({"hostname": 5}, {}),
]  # fmt: skip


async def test_migration_fills_older_snapshots_as_summary_of_does(store_url: str) -> None:
    """Snapshots stored under schema 3 get hostname and summary from migration 0004."""
    dialect: Dialect = "sqlite" if store_url.startswith("sqlite") else "postgres"
    older = [m for m in load_migrations(dialect) if m.version <= 3]
    if dialect == "sqlite":
        conn = sqlite3.connect(store_url.removeprefix("sqlite:///"), isolation_level=None)
        for migration in older:
            conn.executescript(migration.sql)
        conn.execute("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT"
                     " NOT NULL, applied_at REAL NOT NULL)")  # fmt: skip
        conn.executemany("INSERT INTO schema_migrations VALUES (?, ?, 0)",
                         [(m.version, m.name) for m in older])  # fmt: skip
        conn.execute("INSERT INTO systems (name, source, created_at) VALUES ('s', 'push', 0)")
        for document, normalized in OLD_SNAPSHOTS:
            conn.execute("INSERT INTO snapshots (system_id, created_at, source, document,"
                         " normalized) VALUES (1, 0, 'push', ?, ?)",
                         (_json(document), _json(normalized)))  # fmt: skip
        conn.close()
    else:
        with psycopg.connect(store_url, autocommit=True) as pg:
            for migration in older:
                pg.execute(migration.sql)
            pg.execute("CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text"
                       " NOT NULL, applied_at double precision NOT NULL)")  # fmt: skip
            for m in older:
                pg.execute("INSERT INTO schema_migrations VALUES (%s, %s, 0)", (m.version, m.name))
            pg.execute("INSERT INTO systems (name, source, created_at) VALUES ('s', 'push', 0)")
            for document, normalized in OLD_SNAPSHOTS:
                pg.execute("INSERT INTO snapshots (system_id, created_at, source, document,"
                           " normalized) VALUES (1, 0, 'push', %s, %s)",
                           (_json(document), _json(normalized)))  # fmt: skip
    store = open_store(store_url)
    await store.open()  # applies 0004 and later
    summary = "summary" if dialect == "sqlite" else "summary_z"  # packed by PostgreSQL's 0015
    try:
        rows = await store.select(f"SELECT hostname, {summary} FROM snapshots ORDER BY id", {},
                                  time_limit=5)  # fmt: skip
    finally:
        await store.close()
    summaries = [json_value(s) for _, s in rows]
    assert [h for h, _ in rows] == ["nas1", "hub", None]
    # 0004 fills the figures it knew; the console's (CONSOLE_FIGURES) come with newer snapshots.
    expected = [summary_of(normalized) for _, normalized in OLD_SNAPSHOTS]
    assert summaries == [{k: e[k] for k in SUMMARY_FIGURES} for e in expected]


async def test_a_query_past_its_time_limit_is_cancelled(store: Store) -> None:
    slow = (
        "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < 100000000)"
        " SELECT count(*) FROM n"
    )
    with pytest.raises(QueryTimeout):
        await store.select(slow, {}, time_limit=0.2)
    assert (await store.select("SELECT 1", {}, time_limit=1))[0][0] == 1  # still usable


def _json(value: Any) -> str:
    return orjson.dumps(value).decode()
