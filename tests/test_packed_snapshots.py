"""Snapshots stored packed (migrations 0011 and 0015, ``store/packing.py``): what goes in comes
back, on both backends; SQLite keeps a pushed snapshot in a few hundred bytes; rows stored before
0011 (SQLite) or 0015 (PostgreSQL, ``test_packed_postgres.py``) read, filter and continue their
ids as before."""

from __future__ import annotations

import random
import sqlite3
from pathlib import Path
from typing import Any

import orjson
import pytest

from fleetwatch.agent.document import DocumentBuilder
from fleetwatch.ingest.normalise import normalise
from fleetwatch.model.summary import summary_of
from fleetwatch.store import SQLiteStore, Store
from fleetwatch.store.migrate import load_migrations
from fleetwatch.store.packing import json_value, pack, register_packing_functions, unpack
from fleetwatch.store.pg_snapshots import FIGURE_COLUMNS, summary_of_row

pytestmark = pytest.mark.anyio

WORDS = ["web", "Ünïcødé", "数据库", "emoji 🚀", 'tab\tquote"back\\slash', "", "x" * 300]


def _json(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_SORT_KEYS)


def _document(rng: random.Random, n: int) -> dict[str, Any]:
    """A pushed document, varied: CPUs, unicode names, numbers at the edges, nested extras."""
    doc: dict[str, Any] = {
        "hostname": f"{rng.choice(WORDS)}-{n}",
        "cpu": [
            {"user": rng.uniform(0, 50), "system": rng.uniform(0, 10), "idle": rng.uniform(40, 90)}
            for _ in range(rng.randint(0, 8))
        ],
        "memory": {
            "total-bytes": rng.choice([0, 2**63 - 1, 17_179_869_184]),
            "free-bytes": rng.randint(0, 2**40),
        },
        "network": [{"name": rng.choice(WORDS), "KB/s in": rng.random(), "KB/s out": 1e300}],
        "disk": [{"Name": "sda", "KBps read": 0.0, "KBps write": 5e-324}],
    }
    if n % 3 == 0:
        doc["extra"] = {"nested": [{"deep": [1, [2, [3, {"k": rng.choice(WORDS)}]]]}, None, True]}
    if n % 4 == 0:
        doc["version"] = rng.choice(WORDS)
    if n % 5 == 0:
        doc["load"] = {"min1": rng.uniform(0, 9), "min5": 1, "min15": -(2**62)}
    if n % 7 == 0:
        doc["uptime_seconds"] = rng.randint(0, 10**9)
    return doc


async def test_300_varied_documents_come_back_as_stored(store: Store) -> None:
    rng = random.Random(18)
    system = await store.add_system("varied")
    stored: list[tuple[dict[str, Any], dict[str, Any], str]] = []
    for n in range(300):
        doc = _document(rng, n)
        source = "push"
        if n % 10 == 0:  # the hub's own kind: the document is its normal form
            source, stats = "local", doc
        elif n % 10 == 1:  # a normal form that normalise() would not give: kept as given
            stats = {"cpu": {"total": rng.random()}, "note": rng.choice(WORDS)}
        else:
            stats = normalise(doc)
        stored.append((doc, stats, source))
    for n, (doc, stats, source) in enumerate(stored):
        await store.add_snapshot(system.id, 1000.0 + n, doc, stats, source)
    found = await store.snapshots(system.id, limit=1000, newest_first=False)
    assert len(found) == 300
    for record, (doc, stats, source) in zip(found, stored, strict=True):
        assert record.source == source
        # Compared as encoded JSON: 1 and 1.0 are equal in Python, not in what is served
        # (keys sorted: PostgreSQL's jsonb keeps its own order).
        assert _json(record.document) == _json(doc)
        assert _json(record.normalized) == _json(stats)
    # PostgreSQL stores no summary (0018): it is derived from the document and the normal form
    # when read; its indexed figures have columns of their own.
    summary_sql = "summary" if store.dialect == "sqlite" else "summary_z"
    rows = await store.select(
        f"SELECT hostname, {summary_sql}, source, document_z, normalized_z FROM snapshots"
        " ORDER BY id",
        {},
        time_limit=10,
    )
    for (hostname, column, source, document_z, normalized_z), (doc, stats, _) in zip(
        rows, stored, strict=True
    ):
        assert hostname == doc["hostname"]
        version = doc["version"][:64] if "version" in doc else None
        expected = {**summary_of(stats), "agent_version": version}
        if store.dialect == "sqlite":
            assert json_value(column) == expected
        else:
            assert column == b""
            document = json_value(document_z)
            assert summary_of_row(column, source, document, normalized_z) == expected
    if store.dialect == "postgres":
        figures = await store.select(
            f"SELECT {', '.join(FIGURE_COLUMNS)} FROM snapshots ORDER BY id", {}, time_limit=10
        )
        for row, (_, stats, _) in zip(figures, stored, strict=True):
            assert list(row) == [summary_of(stats)[name] for name in FIGURE_COLUMNS]


async def test_a_pushed_snapshot_takes_a_few_hundred_bytes_on_sqlite(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "small.db")
    await store.open()
    try:
        system = await store.add_system("small")
        rng = random.Random(5)
        base = DocumentBuilder().build()
        for n in range(200):
            busy = rng.uniform(0, 100)
            doc = {
                **base,
                "uptime_seconds": 1000 + 10 * n,
                "cpu": [{"user": round(busy * rng.random(), 1), "system": 1.5, "idle": 20.0}] * 4,
                "load": {"min1": round(busy / 25, 2), "min5": 1.2, "min15": 0.9, "cpucore": 4},
            }
            await store.add_snapshot(system.id, 1000.0 + 10 * n, doc, normalise(doc), "push")
    finally:
        await store.close()
    conn = sqlite3.connect(tmp_path / "small.db")
    try:
        register_packing_functions(conn)
        document, packed, normalized = conn.execute(
            "SELECT avg(length(document)), avg(length(document_z)),"
            " count(normalized_z) FROM snapshots"
        ).fetchone()
    finally:
        conn.close()
    assert normalized == 0  # derivable: not stored
    assert packed < document / 3  # measured: ~200 bytes for ~900 bytes of JSON


def _old_database(path: Path) -> list[tuple[Any, ...]]:
    """A database at migration 0010 holding snapshots in the old form; their rows."""
    conn = sqlite3.connect(path, isolation_level=None)
    rows = []
    try:
        conn.execute(
            "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL,"
            " applied_at REAL NOT NULL)"
        )
        for migration in load_migrations("sqlite"):
            if migration.version <= 10:
                conn.executescript(migration.sql)
                conn.execute(
                    "INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, 0)",
                    (migration.version, migration.name),
                )
        conn.execute("INSERT INTO systems (name, source, created_at) VALUES ('old', 'push', 0)")
        rng = random.Random(3)
        for n in range(30):
            doc = _document(rng, n)
            stats = normalise(doc) if n % 2 else {"mem": {"percent": n}}
            source = "local" if n % 5 == 0 else "push"
            if source == "local":
                stats = doc
            summary = {**summary_of(stats), "agent_version": None}
            if n % 3 == 0:  # as older migrations left them: fewer figures
                summary = {"cpu_percent": summary["cpu_percent"], "mem_percent": n}
            texts = [orjson.dumps(value).decode() for value in (doc, stats, summary)]
            row = (1, 100.0 + n, source, texts[0], texts[1], doc["hostname"], texts[2])
            conn.execute(
                "INSERT INTO snapshots (system_id, created_at, source, document, normalized,"
                " hostname, summary) VALUES (?, ?, ?, ?, ?, ?, ?)",
                row,
            )
            rows.append(row)
        # A deleted newest snapshot: its id must never be given again.
        conn.execute("DELETE FROM snapshots WHERE id = (SELECT max(id) FROM snapshots)")
        rows.pop()
    finally:
        conn.close()
    return rows


async def test_snapshots_stored_before_0011_read_the_same_after_it(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    rows = _old_database(path)
    store = SQLiteStore(path)
    await store.open()
    try:
        found = await store.snapshots(1, limit=100, newest_first=False)
        assert len(found) == len(rows) == 29
        for record, row in zip(found, rows, strict=True):
            assert (record.created_at, record.source) == (row[1], row[2])
            assert orjson.dumps(record.document) == row[3].encode()
            assert orjson.dumps(record.normalized) == row[4].encode()
        read = await store.select(
            "SELECT hostname, summary FROM snapshots ORDER BY id", {}, time_limit=10
        )
        assert [(h, orjson.loads(s)) for h, s in read] == [
            (row[5], orjson.loads(row[6])) for row in rows
        ]
        # A filter on the summary still goes through its index, on the converted rows.
        plan = await store.select(
            "EXPLAIN QUERY PLAN SELECT id FROM snapshots"
            " WHERE json_extract(summary, '$.\"mem_percent\"') > 20",
            {},
            time_limit=10,
        )
        assert "snapshots_mem_percent" in str(plan)
        hot = await store.select(
            "SELECT count(*) FROM snapshots WHERE json_extract(summary, '$.\"mem_percent\"') > 20",
            {},
            time_limit=10,
        )
        assert hot[0][0] == sum(
            1 for row in rows if (orjson.loads(row[6]).get("mem_percent") or 0) > 20
        )
        doc = _document(random.Random(9), 1)
        new_id = await store.add_snapshot(1, 500.0, doc, normalise(doc), "push")
        assert new_id == 31  # after the deleted 30th
    finally:
        await store.close()


def test_pack_names_its_dictionary_and_round_trips() -> None:
    text = orjson.dumps({"hostname": "nas1", "ü": [1, 2.5, None]})
    packed = pack(text)
    assert packed[0] == 1
    assert unpack(packed) == text


def test_dense_frames_are_smaller_and_read_alike() -> None:
    """PostgreSQL packs documents at zstd level 9 (what takes its rows under 500 bytes), SQLite
    at level 3 (its event loop packs every push); either reads back byte for byte."""
    text = orjson.dumps(DocumentBuilder().build())
    plain, dense = pack(text), pack(text, dense=True)
    assert unpack(plain) == unpack(dense) == text
    assert len(dense) < len(plain)
