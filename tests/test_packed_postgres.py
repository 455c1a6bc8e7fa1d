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
from fleetwatch.store.migrate import load_migrations
from fleetwatch.store.packing import json_value, pack
from fleetwatch.store.pg_snapshots import FIGURE_COLUMNS
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


async def test_the_hub_sums_what_the_jsonb_statement_summed(store: Store) -> None:
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
