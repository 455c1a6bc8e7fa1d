"""Migration 0010 recomputes summary.storage_percent by summary_of's rule, on both backends."""

from __future__ import annotations

import sqlite3
from pathlib import Path
from typing import Any

import orjson
import psycopg
import pytest

from fleetwatch.model.summary import summary_of
from fleetwatch.store import Store
from fleetwatch.store.migrate import load_migrations

pytestmark = pytest.mark.anyio

MIGRATIONS = Path(__file__).resolve().parent.parent / "fleetwatch" / "store" / "migrations"
FILESYSTEMS: list[Any] = [
    [{"size": 270, "used": 27, "free": 81}],  # reserved blocks: neither used nor free
    [{"size": 4096, "used": 1523}],  # no free: over the size
    [{"size": 100, "used": 10, "free": 90}, {"size": 50, "used": 25}, "not a dict"],
    [{"size": 0, "used": 0, "free": 0}],
    [],
]


async def test_the_sql_and_python_rules_agree(store: Store, store_url: str) -> None:
    system = await store.add_system("nas1")
    for n, fs in enumerate(FILESYSTEMS):
        stats = {"fs": fs}
        await store.add_snapshot(system.id, 1000.0 + n, stats, stats, "push")
    rows = await store.select("SELECT id FROM snapshots ORDER BY id", {}, time_limit=10)
    script = (MIGRATIONS / store.dialect / "0010_storage_percent.sql").read_text()
    if store.dialect == "sqlite":
        # Since 0011 the summary is generated from a packed column: 0010 is checked on the
        # schema it was written for, a database migrated up to 0009.
        found = _sqlite_before_0011(script)
        expected = [summary_of({"fs": fs})["storage_percent"] for fs in FILESYSTEMS]
        assert [None if v is None else float(v) for v in found] == expected
        return
    # Since 0015 the summary is packed: 0010 is checked on the schema it was written for, a
    # schema of this database migrated up to 0009.
    with psycopg.connect(store_url, autocommit=True) as conn:
        conn.execute("CREATE SCHEMA before_0010")
        conn.execute("SET search_path TO before_0010")
        for migration in load_migrations("postgres"):
            if migration.version < 10:
                conn.execute(migration.sql.encode())
        conn.execute("INSERT INTO systems (name, source, created_at) VALUES ('nas1', 'push', 0)")
        for n, fs in enumerate(FILESYSTEMS):
            text = orjson.dumps({"fs": fs}).decode()
            conn.execute(
                "INSERT INTO snapshots (system_id, created_at, source, document, normalized,"
                " summary) VALUES (1, %s, 'push', %s, %s, '{\"storage_percent\": -1}')",
                (1000.0 + n, text, text),
            )
        conn.execute(script)
        read = "SELECT summary -> 'storage_percent' FROM snapshots ORDER BY id"
        found = [row[0] for row in conn.execute(read).fetchall()]
    expected = [summary_of({"fs": fs})["storage_percent"] for fs in FILESYSTEMS]
    assert len(rows) == len(expected)
    assert [None if v is None else float(v) for v in found] == expected


def _sqlite_before_0011(script: str) -> list[Any]:
    conn = sqlite3.connect(":memory:", isolation_level=None)
    try:
        for migration in load_migrations("sqlite"):
            if migration.version < 10:
                conn.executescript(migration.sql)
        conn.execute("INSERT INTO systems (name, source, created_at) VALUES ('nas1', 'push', 0)")
        for n, fs in enumerate(FILESYSTEMS):
            stats = orjson.dumps({"fs": fs}).decode()
            conn.execute(
                "INSERT INTO snapshots (system_id, created_at, source, document, normalized,"
                " summary) VALUES (1, ?, 'push', ?, ?, '{\"storage_percent\": -1}')",
                (1000.0 + n, stats, stats),
            )
        conn.executescript(script)
        read = "SELECT json_extract(summary, '$.storage_percent') FROM snapshots ORDER BY id"
        return [row[0] for row in conn.execute(read)]
    finally:
        conn.close()
