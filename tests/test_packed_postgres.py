"""PostgreSQL's snapshots packed by migration 0015: rows stored as jsonb before it read, filter,
sort and roll up as before, keep their ids, and the identity goes on after them."""

from __future__ import annotations

import random
from collections.abc import AsyncIterator
from typing import Any

import orjson
import psycopg
import pytest
from test_packed_snapshots import _document

from fleetwatch.ingest.normalise import normalise
from fleetwatch.model.summary import summary_of
from fleetwatch.store import Store, open_store
from fleetwatch.store.listing import COLLECTIONS, page_sql
from fleetwatch.store.migrate import load_migrations
from fleetwatch.store.packing import json_value, pack
from fleetwatch.store.pg_snapshots import COARSE_SQL, FIGURE_COLUMNS, coarse
from fleetwatch.store.query import SQL, evaluate, parse_query
from fleetwatch.store.query_split import translate
from fleetwatch.store.summaries_py import summarise_packed
from fleetwatch.store.summaries_sql import HistoryItem, summary_statement

pytestmark = [pytest.mark.anyio, pytest.mark.postgres]

Row = tuple[Any, ...]


def _old_rows(rng: random.Random) -> list[Row]:
    rows = []
    for n in range(40):
        doc = _document(rng, n)
        stats = normalise(doc) if n % 2 else {"mem": {"percent": n}, "network": doc["network"]}
        source = "local" if n % 5 == 0 else "push"
        if source == "local":
            stats = doc
        summary = {**summary_of(stats), "agent_version": None}
        if n % 3 == 0:  # as older migrations left them: fewer figures
            summary = {"cpu_percent": summary["cpu_percent"], "mem_percent": n}
        texts = [orjson.dumps(value).decode() for value in (doc, stats, summary)]
        rows.append((1, 100.0 + 7 * n, source, texts[0], texts[1], doc["hostname"], texts[2]))
    return rows


@pytest.fixture
def old_database(postgres_url: str) -> tuple[str, list[Row]]:
    """A database at migration 0014 holding jsonb snapshots; their rows (ids 1..39)."""
    rows = _old_rows(random.Random(3))
    with psycopg.connect(postgres_url, autocommit=True) as pg:
        pg.execute(
            "CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL,"
            " applied_at double precision NOT NULL)"
        )
        for migration in load_migrations("postgres"):
            if migration.version <= 14:
                pg.execute(migration.sql.encode())
                pg.execute(
                    "INSERT INTO schema_migrations VALUES (%s, %s, 0)",
                    (migration.version, migration.name),
                )
        pg.execute("INSERT INTO systems (name, source, created_at) VALUES ('old', 'push', 0)")
        pg.cursor().executemany(
            "INSERT INTO snapshots (system_id, created_at, source, document, normalized,"
            " hostname, summary) VALUES (%s, %s, %s, %s, %s, %s, %s)",
            rows,
        )
        # A deleted newest snapshot: its id must never be given again.
        pg.execute("DELETE FROM snapshots WHERE id = (SELECT max(id) FROM snapshots)")
    rows.pop()
    return postgres_url, rows


ITEMS = [
    HistoryItem("mem", "percent", None),
    HistoryItem("cpu", "total", None),
    HistoryItem("network", "KB/s in", "name"),
    HistoryItem("network", "KB/s out", "name"),
]


@pytest.fixture
async def migrated(old_database: tuple[str, list[Row]]) -> AsyncIterator[tuple[Store, list[Row]]]:
    url, rows = old_database
    store = open_store(url)
    await store.open()
    yield store, rows
    await store.close()


@pytest.fixture
async def pg_store(postgres_url: str) -> AsyncIterator[Store]:
    store = open_store(postgres_url)
    await store.open()
    yield store
    await store.close()


def _summed_in_jsonb(url: str) -> list[tuple[Any, ...]]:
    sql, params = summary_statement("postgres", ITEMS, 1, 0.0, 1e9, 60)
    with psycopg.connect(url) as pg:
        return sorted(pg.execute(sql, params).fetchall(), key=repr)


async def test_rows_read_as_before_and_ids_continue(
    old_database: tuple[str, list[Row]],
) -> None:
    url, rows = old_database
    before = _summed_in_jsonb(url)
    store = open_store(url)
    await store.open()
    try:
        found = await store.snapshots(1, limit=100, newest_first=False)
        assert len(found) == len(rows) == 39
        for record, row in zip(found, rows, strict=True):
            assert (record.created_at, record.source) == (row[1], row[2])
            assert record.document == orjson.loads(row[3])
            assert record.normalized == orjson.loads(row[4])
        read = await store.select(
            f"SELECT hostname, summary_z, {', '.join(FIGURE_COLUMNS)} FROM snapshots ORDER BY id",
            {},
            time_limit=10,
        )
        for (hostname, summary, *figures), row in zip(read, rows, strict=True):
            expected = orjson.loads(row[6])
            assert (hostname, json_value(summary)) == (row[5], expected)
            assert figures == [expected.get(name) for name in FIGURE_COLUMNS]
        # The roll-ups the hub sums from the packed rows are the ones jsonb gave.
        # (Sums to the last bit aside: float addition depends on the order of the rows.)
        after = sorted(await store.snapshot_summaries(1, 0.0, 1e9, 60, ITEMS), key=repr)
        assert [r[:3] + r[4:] for r in after] == [r[:3] + r[4:] for r in before]
        assert [r[3] for r in after] == pytest.approx([r[3] for r in before], rel=1e-12)
        doc = _document(random.Random(9), 1)
        new_id = await store.add_snapshot(1, 500.0, doc, normalise(doc), "push")
        assert new_id == 41  # after the deleted 40th
    finally:
        await store.close()


async def test_the_hub_sums_what_the_jsonb_statement_summed() -> None:
    """``summaries_py`` against ``summaries_sql`` on the same rows."""
    rng = random.Random(11)
    rows = []
    for n in range(50):
        doc = _document(rng, n)
        stats = normalise(doc)
        stats["network"] = [*doc["network"], {"name": 7, "KB/s in": n}, "junk", {"KB/s in": 1}]
        rows.append((1000.0 + 13 * n, "push", pack(orjson.dumps(doc)), pack(orjson.dumps(stats))))
    mine = summarise_packed(rows, ITEMS, 60)
    assert {r[0] for r in mine if r[1] is None} == {float(int(t // 60) * 60) for t, *_ in rows}
    network = [r for r in mine if r[1] == "network"]
    assert any(str(item).startswith("7_") for _, _, item, *_ in network)


FIGURES = [0.0, 0.05, 0.15, 0.25, 89.95, 89.99, 90.0, 90.04, 90.05, 90.06, 100, -3.5, 1e300, -1e300,
           2**62, 123456789.25]  # fmt: skip


async def test_the_coarse_key_is_the_index_expression(pg_store: Store) -> None:
    """``coarse`` computes what the index holds, halves and extremes included."""
    sql = COARSE_SQL.format(column="v")
    rows = await pg_store.select(
        f"SELECT {sql} FROM unnest(%(values)s::float8[]) AS t(v)",
        {"values": [float(v) for v in FIGURES]},
        time_limit=5,
    )
    assert [row[0] for row in rows] == [coarse(v) for v in FIGURES]


@pytest.mark.parametrize(
    "query",
    [
        {"summary.cpu_percent": {"$gt": 90}},
        {"summary.cpu_percent": {"$gte": 90.05}},
        {"summary.cpu_percent": {"$lt": 90.05, "$gt": 0.05}},
        {"summary.cpu_percent": {"$lte": 0.15}},
        {"summary.cpu_percent": 89.95},
        {"summary.cpu_percent": {"$ne": 90}},
        {"summary.cpu_percent": {"$in": [0.25, 1e300, "x"]}},
        {"summary.cpu_percent": {"$gt": 1e299}},
        {"summary.cpu_percent": {"$lt": -1e299}},
        {"summary.cpu_percent": None},
        {"summary.cpu_percent": {"$exists": False}},
        {"summary.cpu_percent": {"$gt": "a"}},
    ],
    ids=repr,
)
async def test_figure_filters_answer_as_the_evaluator(
    pg_store: Store, query: dict[str, Any]
) -> None:
    store = pg_store
    system = await store.add_system("figures")
    for n, value in enumerate([*FIGURES, None]):
        normalized = {"cpu": {"total": value}} if value is not None else {}
        await store.add_snapshot(system.id, 100.0 + n, {"hostname": "f"}, normalized, "push")
    statistics = COLLECTIONS["statistics"]
    fields = statistics.field_map
    parsed = parse_query(orjson.dumps(query), fields)
    where, order, plan = translate(parsed, (), fields, "postgres", statistics.packed)
    page = page_sql(statistics, where, order, "postgres", offset=0, limit=None)
    rows = await store.select(page.text, page.params, time_limit=5)
    records = [statistics.raw_record(row) for row in rows]
    found = [r["_id"] for r in records if plan is None or plan.residual is None
             or evaluate(plan.residual, r)]  # fmt: skip
    everything = await store.select(statistics_all(), {}, time_limit=5)
    expected = [r["_id"] for r in map(statistics.raw_record, everything) if evaluate(parsed, r)]
    assert found == expected


def statistics_all() -> str:
    statistics = COLLECTIONS["statistics"]
    every = page_sql(statistics, SQL("TRUE", {}), SQL("s.id", {}), "postgres", offset=0, limit=None)
    return every.text
