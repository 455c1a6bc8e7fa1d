"""Migration 0010 recomputes summary.storage_percent by summary_of's rule, on both backends."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import psycopg
import pytest

from fleetwatch.model.summary import summary_of
from fleetwatch.store import Store

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
        import sqlite3  # noqa: PLC0415

        with sqlite3.connect(store_url.removeprefix("sqlite:///")) as conn:
            conn.execute(
                "UPDATE snapshots SET summary = json_set(summary, '$.storage_percent', -1)"
            )
            conn.executescript(script)
        read = "SELECT json_extract(summary, '$.storage_percent') FROM snapshots ORDER BY id"
    else:
        with psycopg.connect(store_url, autocommit=True) as conn:
            conn.execute(
                "UPDATE snapshots SET summary = jsonb_set(summary, '{storage_percent}', '-1')"
            )
            conn.execute(script)
        read = "SELECT summary -> 'storage_percent' FROM snapshots ORDER BY id"
    found = [row[0] for row in await store.select(read, {}, time_limit=10)]
    expected = [summary_of({"fs": fs})["storage_percent"] for fs in FILESYSTEMS]
    assert len(rows) == len(expected)
    assert [None if v is None else float(v) for v in found] == expected
