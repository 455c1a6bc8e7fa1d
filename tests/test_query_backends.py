"""The query translator against real SQLite and PostgreSQL: a table of (query, expected ids) over
hand-made snapshots, hostile inputs included, and sort order; the reference evaluator must agree."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest
from fixtures_store import with_database
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from psycopg import sql

from fleetwatch.store.listing import SNAPSHOT_FIELDS
from fleetwatch.store.query import (
    Dialect,
    Filter,
    InvalidQuery,
    evaluate,
    order_by_sql,
    parse_query,
    parse_sort,
    register_sqlite_functions,
    where_sql,
)
from fleetwatch.store.query_parse import date_value

Record = dict[str, Any]

# The hub stores a snapshot's hostname in its own column (always a string there) and its
# system's tags in the systems table; these tables keep both inside the document, so that they
# also exercise the document paths.
FIELDS = dataclasses.replace(
    SNAPSHOT_FIELDS,
    columns={k: v for k, v in SNAPSHOT_FIELDS.columns.items() if k != "hostname"},
    json_columns={k: v for k, v in SNAPSHOT_FIELDS.json_columns.items() if k != "tags"},
)

SQLITE_SCHEMA = (
    "CREATE TABLE systems (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE)",
    "CREATE TABLE snapshots (id INTEGER PRIMARY KEY, system_id INTEGER NOT NULL,"
    " created_at REAL NOT NULL, source TEXT NOT NULL, document TEXT NOT NULL,"
    " summary TEXT NOT NULL)",
)
POSTGRES_SCHEMA = (
    "CREATE TABLE systems (id bigint PRIMARY KEY, name text NOT NULL UNIQUE)",
    "CREATE TABLE snapshots (id bigint PRIMARY KEY, system_id bigint NOT NULL,"
    " created_at double precision NOT NULL, source text NOT NULL, document jsonb NOT NULL,"
    " summary jsonb NOT NULL)",
)
SELECT = "SELECT s.id FROM snapshots AS s JOIN systems AS y ON y.id = s.system_id"
COLUMNS = ("_id", "systemId", "system", "createdAt", "_updatedAt", "source", "summary")


class Backend:
    """One open connection and the snapshots table it holds."""

    def __init__(self, dialect: Dialect, conn: sqlite3.Connection | psycopg.Connection[Any]):
        self.dialect = dialect
        self.conn = conn
        self.loaded: list[Record] | None = None

    def load(self, records: list[Record]) -> None:
        if records is self.loaded:
            return
        self.loaded = records
        ph = "?" if self.dialect == "sqlite" else "%s"

        systems = sorted({(r["systemId"], r["system"]) for r in records})
        rows = [
            (
                r["_id"],
                r["systemId"],
                date_value(r["createdAt"], "createdAt"),
                r["source"],
                orjson.dumps({k: v for k, v in r.items() if k not in COLUMNS}).decode(),
                orjson.dumps(r.get("summary", {})).decode(),
            )
            for r in records
        ]
        cursor = self.conn.cursor()
        cursor.execute("DELETE FROM snapshots")
        cursor.execute("DELETE FROM systems")
        cursor.executemany(f"INSERT INTO systems (id, name) VALUES ({ph}, {ph})", systems)
        cursor.executemany(
            f"INSERT INTO snapshots VALUES ({ph}, {ph}, {ph}, {ph}, {ph}, {ph})", rows
        )
        if isinstance(self.conn, sqlite3.Connection):
            self.conn.commit()

    def ids(self, query: Filter, sort_text: str | None = None) -> list[int]:
        where = where_sql(query, self.dialect)
        order = order_by_sql(parse_sort(sort_text, FIELDS), FIELDS, self.dialect)
        text = f"{SELECT} WHERE {where.text} ORDER BY {order.text}"
        rows = self.conn.execute(text, {**where.params, **order.params}).fetchall()
        return [int(row[0]) for row in rows]


@pytest.fixture(scope="module")
def sqlite_backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Backend]:
    path: Path = tmp_path_factory.mktemp("query") / "query.db"
    conn = sqlite3.connect(path)
    register_sqlite_functions(conn)
    for statement in SQLITE_SCHEMA:
        conn.execute(statement)
    yield Backend("sqlite", conn)
    conn.close()


@pytest.fixture(scope="module")
def postgres_backend(postgres_admin_url: str) -> Iterator[Backend]:
    name = "fw_test_query"
    with psycopg.connect(postgres_admin_url, autocommit=True) as admin:
        admin.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
        )
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    conn = psycopg.connect(with_database(postgres_admin_url, name), autocommit=True)
    for statement in POSTGRES_SCHEMA:
        conn.execute(statement)
    try:
        yield Backend("postgres", conn)
    finally:
        conn.close()
        with psycopg.connect(postgres_admin_url, autocommit=True) as admin:
            admin.execute(sql.SQL("DROP DATABASE {} WITH (FORCE)").format(sql.Identifier(name)))


@pytest.fixture(
    scope="module",
    params=[
        pytest.param("sqlite", id="sqlite"),
        pytest.param("postgres", id="postgres", marks=pytest.mark.postgres),
    ],
)
def backend(request: pytest.FixtureRequest) -> Backend:
    found: Backend = request.getfixturevalue(f"{request.param}_backend")
    return found


def _record(n: int, system: str, day: int, source: str = "push", **fields: Any) -> Record:
    return {
        "_id": n,
        "systemId": int(system.rsplit("-", 1)[1]),
        "system": system,
        "createdAt": f"2026-01-{day:02d}T12:00:00Z",
        "_updatedAt": f"2026-01-{day:02d}T12:00:00Z",
        "source": source,
        **fields,
    }


RECORDS: list[Record] = [
    _record(1, "host-1", 1, hostname="web-1", version="1.0", uptime_seconds=100,
            cpu=[{"user": 50, "system": 10, "idle": 40}], tags=["prod", "web"],
            cpu_temperatures=[40, 55], summary={"cpu_percent": 60, "mem_percent": 40}),
    _record(2, "host-1", 2, hostname="web-2", version="1.1", uptime_seconds=5000,
            cpu=[{"user": 95, "system": 3, "idle": 2}, {"user": 10, "system": 5, "idle": 85}],
            tags=["prod"], cpu_temperatures=[90, 60],
            summary={"cpu_percent": 97.5, "mem_percent": 80}),
    _record(3, "host-2", 3, "local", hostname="DB-1", version="2.0", uptime_seconds=7.5, cpu=[],
            tags=[], model=None, summary={"cpu_percent": 0, "mem_percent": 10}),
    _record(4, "host-2", 4, hostname="db-2", uptime_seconds="unknown", tags="prod",
            network=[{"name": "eth0", "KB/s in": 120.5}], summary={"cpu_percent": "n/a"}),
    _record(5, "host-3", 5, hostname='it\'s "quoted"', summary={})
    | {"a'; DROP TABLE snapshots; --": 1},
    _record(6, "host-3", 6, "local", hostname="cache", extras={"0": "zero-key"},
            flags=[True, False], matrix=[[1, 2], [3]], summary={"cores": [1, 2]}),
    _record(7, "host-4", 7, hostname="x", version=3, nested={"deep": {"er": {"est": 5}}},
            summary={"cpu_percent": 45, "load1": 0.5}),
    _record(8, "host-4", 8, hostname=None, tags=["web", None]),
    _record(9, "host-5", 9, uptime_seconds=100.0, flag=True),
    _record(10, "host-5", 10, hostname="Web-10", tags=["Prod", "WEB"], cpu=[{"user": 50}],
            flag=False),
    _record(11, "host-6", 11, hostname="web-11", version="1.10", uptime_seconds=-3),
    _record(12, "host-6", 12, hostname="web-12", version="10.0", uptime_seconds=1e6,
            tags=["a", "b", "c"]),
    _record(13, "host-7", 13, hostname="ünïcode", uptime_seconds=0),
    _record(14, "host-7", 14, hostname="web-14", cpu={"0": {"user": 70}}),
    _record(15, "host-8", 15, hostname="", uptime_seconds=False),
    _record(16, "host-8", 16, hostname="1", uptime_seconds="100"),
    _record(17, "host-9", 17, hostname=1, tags=[["prod"]]),
    _record(18, "host-9", 18, hostname="web-18", disk=[{"Name": "ada0", "KBps read": 60}],
            summary={"cpu_percent": 91, "storage_percent": 99.9}),
    _record(19, "host-10", 19, hostname="web-19", version="1.0", tags=["prod", "web", "db"]),
    _record(20, "host-10", 20, hostname="web-20", cpu=[{"user": 5}, {"user": 99}],
            summary={"cpu_percent": 52}),
]  # fmt: skip

ALL = list(range(1, 21))

TABLE: list[tuple[str, list[int]]] = [
    ("{}", ALL),
    ('{"_id": 3}', [3]),
    ('{"_id": "3"}', [3]),
    ('{"_id": {"$in": [1, 5, 99]}}', [1, 5]),
    ('{"system": "host-1"}', [1, 2]),
    ('{"systemId": {"$gte": 9}}', [17, 18, 19, 20]),
    ('{"source": "local"}', [3, 6]),
    ('{"source": {"$ne": "push"}}', [3, 6]),
    ('{"system": 1}', []),
    ('{"createdAt": {"$gte": "2026-01-19T00:00:00Z"}}', [19, 20]),
    ('{"createdAt": {"$lt": {"$date": "2026-01-02T12:00:00Z"}}}', [1]),
    ('{"createdAt": {"$lte": {"$date": 1767355200000}}}', [1, 2]),
    ('{"_updatedAt": {"$gt": "2026-01-18T12:00:00"}}', [19, 20]),
    ('{"hostname": "web-1"}', [1]),
    ('{"hostname": null}', [8, 9]),
    ('{"hostname": {"$exists": false}}', [9]),
    ('{"model": {"$exists": true}}', [3]),
    ('{"model": null}', [1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18, 19, 20]),
    ('{"hostname": 1}', [17]),
    ('{"hostname": "1"}', [16]),
    ('{"uptime_seconds": 100}', [1, 9]),
    ('{"uptime_seconds": {"$gt": 5}}', [1, 2, 3, 9, 12]),
    ('{"uptime_seconds": {"$lte": 0}}', [11, 13]),
    ('{"uptime_seconds": {"$gt": "a"}}', [4]),
    ('{"uptime_seconds": false}', [15]),
    ('{"uptime_seconds": {"$ne": 100}}', [2, 3, 4, 5, 6, 7, 8, 10, 11, 12, 13, 14, 15, 16, 17,
                                           18, 19, 20]),
    ('{"version": {"$gt": "1.0"}}', [2, 3, 11, 12]),
    ('{"version": {"$gt": 2}}', [7]),
    ('{"tags": "prod"}', [1, 2, 4, 19]),
    ('{"tags": ["prod"]}', [2]),
    ('{"tags": ["prod", "web"]}', [1]),
    ('{"tags": []}', [3]),
    ('{"tags": null}', [5, 6, 7, 8, 9, 11, 13, 14, 15, 16, 18, 20]),
    ('{"tags": {"$size": 3}}', [12, 19]),
    ('{"tags": {"$size": 0}}', [3]),
    ('{"tags": {"$in": ["web", "db"]}}', [1, 8, 19]),
    ('{"tags": {"$nin": ["prod", "web"]}}', [3, 5, 6, 7, 9, 10, 11, 12, 13, 14, 15, 16, 17, 18,
                                              20]),
    ('{"tags.0": "prod"}', [1, 2, 17, 19]),  # 17: tags.0 is ["prod"], an element matches
    ('{"tags.1": {"$exists": true}}', [1, 8, 10, 12, 19]),
    ('{"cpu.0.user": {"$gt": 60}}', [2, 14]),
    ('{"cpu.1.user": 10}', [2]),
    ('{"cpu": {"$elemMatch": {"user": {"$gt": 90}}}}', [2, 20]),
    ('{"cpu": {"$elemMatch": {"user": {"$gte": 10}, "idle": {"$gt": 80}}}}', [2]),
    ('{"cpu_temperatures": {"$elemMatch": {"$gt": 50, "$lt": 58}}}', [1]),
    ('{"cpu_temperatures": {"$gt": 80}}', [2]),
    ('{"matrix": {"$elemMatch": {"$size": 1}}}', [6]),
    ('{"matrix.0.1": 2}', [6]),
    ('{"extras.0": "zero-key"}', [6]),
    ('{"flags": true}', [6]),
    ('{"flag": {"$in": [true]}}', [9]),
    ('{"nested.deep.er.est": {"$gte": 5}}', [7]),
    ('{"network.0.KB/s in": {"$gt": 100}}', [4]),
    ('{"disk.0.KBps read": 60}', [18]),
    ('{"summary.cpu_percent": {"$gt": 90}}', [2, 18]),
    ('{"summary.load1": 0.5}', [7]),
    # summary is declared scalar: no element-wise search there (so indexes can serve it)
    ('{"summary.cores": 1}', []),
    ('{"summary.cores": [1, 2]}', [6]),
    ('{"summary.cores": {"$size": 2}}', [6]),
    ('{"summary.cpu_percent": {"$exists": false}}', [5, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17,
                                                      19]),
    ('{"hostname": {"$regex": "^web-1"}}', [1, 11, 12, 14, 18, 19]),
    ('{"hostname": {"$regex": "^WEB", "$options": "i"}}', [1, 2, 10, 11, 12, 14, 18, 19, 20]),
    ('{"hostname": {"$regex": "^db", "$options": "i"}}', [3, 4]),
    ('{"hostname": {"$not": {"$regex": "web"}}}', [3, 4, 5, 6, 7, 8, 9, 10, 13, 15, 16, 17]),
    ('{"tags": {"$regex": "^P"}}', [10]),
    ('{"hostname": {"$regex": "\\\\d{2}$"}}', [10, 11, 12, 14, 18, 19, 20]),
    ('{"hostname": {"$regex": "^ü"}}', [13]),
    ('{"system": {"$regex": "-1\\\\d$"}}', [19, 20]),
    ('{"$or": [{"system": "host-1"}, {"summary.cpu_percent": {"$gte": 91}}]}', [1, 2, 18]),
    ('{"$and": [{"tags": "prod"}, {"tags": "web"}]}', [1, 19]),
    ('{"$nor": [{"tags": "prod"}, {"hostname": {"$regex": "web"}}]}',
     [3, 5, 6, 7, 8, 9, 10, 13, 15, 16, 17]),
    ('{"system": "host-1", "version": "1.1"}', [2]),
    ('{"uptime_seconds": {"$gt": 0, "$lt": 1000}}', [1, 3, 9]),
    ('{"uptime_seconds": {"$not": {"$gt": 0}}}', [4, 5, 6, 7, 8, 10, 11, 13, 14, 15, 16, 17,
                                                   18, 19, 20]),
    # hostile input: it is data, compared as data
    ('{"a\'; DROP TABLE snapshots; --": 1}', [5]),
    ('{"hostname": "it\'s \\"quoted\\""}', [5]),
    ('{"hostname": "x\' OR \'1\'=\'1"}', []),
    ('{"hostname": {"$regex": "\'; DROP TABLE snapshots; --"}}', []),
    ('{"system": "host-1\' OR 1=1 --"}', []),
    ('{"hostname": {"$in": ["web-1", "web-2\'); DELETE FROM systems; --"]}}', [1]),
]  # fmt: skip


@pytest.mark.parametrize(("query", "expected"), TABLE, ids=[q for q, _ in TABLE])
def test_table(backend: Backend, query: str, expected: list[int]) -> None:
    backend.load(RECORDS)
    parsed = parse_query(query, FIELDS)
    assert [r["_id"] for r in RECORDS if evaluate(parsed, r)] == expected, "reference evaluator"
    assert backend.ids(parsed) == expected


def test_huge_in_list_within_the_limit(backend: Backend) -> None:
    backend.load(RECORDS)
    values = [f"web-{n}" for n in range(1000)]
    query = parse_query(orjson.dumps({"hostname": {"$in": values}}), FIELDS)
    assert backend.ids(query) == [1, 2, 11, 12, 14, 18, 19, 20]
    with pytest.raises(InvalidQuery, match="1001 values; at most 1000"):
        parse_query(orjson.dumps({"hostname": {"$in": list(range(1001))}}), FIELDS)


def test_tables_survive_hostile_queries(backend: Backend) -> None:
    backend.load(RECORDS)
    for query, _ in TABLE:
        backend.ids(parse_query(query, FIELDS))
    assert len(backend.ids(parse_query("{}", FIELDS))) == 20


SORTS: list[tuple[str, list[int]]] = [
    ('{"createdAt": -1}', list(range(20, 0, -1))),
    ('{"system": 1, "createdAt": -1}', [2, 1, 20, 19, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13,
                                        16, 15, 18, 17]),
    # missing and null first, then numbers, strings; ties by id (in the last key's direction)
    ('{"summary.cpu_percent": 1}', [5, 6, 8, 9, 10, 11, 12, 13, 14, 15, 16, 17, 19, 3, 7, 20, 1,
                                    18, 2, 4]),
    ('{"summary.cpu_percent": -1}', [4, 2, 18, 1, 20, 7, 3, 19, 17, 16, 15, 14, 13, 12, 11, 10,
                                     9, 8, 6, 5]),
    ('{"uptime_seconds": 1, "_id": -1}', [20, 19, 18, 17, 14, 10, 8, 7, 6, 5, 11, 13, 3, 9, 1,
                                          2, 12, 16, 4, 15]),
]  # fmt: skip


@pytest.mark.parametrize(("sort", "expected"), SORTS, ids=[s for s, _ in SORTS])
def test_sort(backend: Backend, sort: str, expected: list[int]) -> None:
    backend.load(RECORDS)
    assert backend.ids(parse_query("{}", FIELDS), sort) == expected


# -- property: random documents, random queries; both backends agree with the evaluator

_SCALARS = st.sampled_from([None, True, False, 0, 1, 2, -1.5, 0.5, "", "x", "X", "xy"])
# The summary column holds figures the hub computes: numbers, strings or null, never booleans,
# arrays or objects (the translator's index-friendly scalar ranges rely on it).
_SUMMARY_VALUES = st.sampled_from([None, 0, 1, 2, -1.5, 0.5, "", "x", "X", "xy"])
_KEYS = st.sampled_from(["a", "b", "0"])
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(_KEYS, inner, max_size=2),
    max_leaves=6,
)
_PATHS = st.sampled_from(
    ["a", "b", "a", "b", "a", "a.b", "a.0", "b.1", "a.0.b", "a.1.0", "summary.a", "summary.b"]
)
_COLUMN_CONDITIONS = st.sampled_from(
    [
        ("system", "host-1"),
        ("system", {"$in": ["host-2", "nope"]}),
        ("system", {"$regex": "-2$"}),
        ("source", {"$ne": "push"}),
        ("_id", {"$gte": 3}),
        ("_id", {"$nin": [1, 2]}),
        ("createdAt", {"$gt": "2026-01-02T00:00:00Z"}),
        ("createdAt", {"$lte": {"$date": "2026-01-03T12:00:00Z"}}),
        ("_updatedAt", {"$exists": True}),
    ]
)


@st.composite
def _records(draw: st.DrawFn) -> list[Record]:
    count = draw(st.integers(1, 6))
    records = []
    for n in range(1, count + 1):
        fields = draw(st.fixed_dictionaries({"a": _VALUES}, optional={"b": _VALUES}))
        summary = draw(st.dictionaries(st.sampled_from(["a", "b"]), _SUMMARY_VALUES, max_size=2))
        system = draw(st.sampled_from(["host-1", "host-2"]))
        source = draw(st.sampled_from(["push", "local"]))
        records.append(
            _record(n, system, draw(st.integers(1, 5)), source, summary=summary, **fields)
        )
    return records


def _operators(depth: int) -> st.SearchStrategy[dict[str, Any]]:
    lists = st.lists(_SCALARS, max_size=3)
    simple: list[st.SearchStrategy[dict[str, Any]]] = [
        st.builds(lambda v: {"$eq": v}, _SCALARS | st.lists(_SCALARS, max_size=2)),
        st.builds(lambda v: {"$ne": v}, _SCALARS),
        st.builds(
            lambda op, v: {op: v},
            st.sampled_from(["$gt", "$gte", "$lt", "$lte"]),
            st.sampled_from([0, 1, 2, 0.5, -1.5, "x", "", "X", "y"]),
        ),
        st.builds(lambda v: {"$in": v}, lists),
        st.builds(lambda v: {"$nin": v}, lists),
        st.builds(lambda v: {"$exists": v}, st.booleans()),
        st.builds(
            lambda p, o: {"$regex": p, "$options": o},
            st.sampled_from(["^x", "y$", "x", "^$", "X", "^.{2}$", "^[0-9]"]),
            st.sampled_from(["", "i"]),
        ),
        st.builds(lambda n: {"$size": n}, st.integers(0, 3)),
    ]
    if depth > 0:
        inner = _operators(depth - 1)
        simple.append(st.builds(lambda ops: {"$not": ops}, inner))
        simple.append(st.builds(lambda ops: {"$elemMatch": ops}, inner))
        simple.append(st.builds(lambda q: {"$elemMatch": q}, _filters(depth - 1, element=True)))
    return st.one_of(simple)


def _filters(depth: int, *, element: bool = False) -> st.SearchStrategy[dict[str, Any]]:
    field = st.builds(lambda path, cond: {path: cond}, _PATHS, _SCALARS | _operators(min(depth, 1)))
    options = [field]
    if not element:  # inside $elemMatch every name is a path in the element
        options.append(_COLUMN_CONDITIONS.map(lambda pair: {pair[0]: pair[1]}))
    if depth > 0:
        inner = st.lists(_filters(depth - 1, element=element), min_size=1, max_size=2)
        options.append(
            st.builds(
                lambda op, items: {op: items}, st.sampled_from(["$and", "$or", "$nor"]), inner
            )
        )
    return st.one_of(options)


@settings(
    max_examples=100,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(records=_records(), queries=st.lists(_filters(2), min_size=1, max_size=8))
def test_sql_agrees_with_the_reference_evaluator(
    backend: Backend, records: list[Record], queries: list[dict[str, Any]]
) -> None:
    backend.load(records)
    for query in queries:
        parsed = parse_query(orjson.dumps(query), FIELDS)
        expected = [r["_id"] for r in records if evaluate(parsed, r)]
        assert backend.ids(parsed) == expected, query
