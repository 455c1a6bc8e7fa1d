"""The storage contract, run against SQLite and PostgreSQL through the ``store`` fixture."""

from __future__ import annotations

import asyncio
import dataclasses
import os
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import psycopg
import pytest
from writer_recorder import Recorder

from fleetwatch.store import (
    Conflict,
    EventRecord,
    GroupCommitWriter,
    NotFound,
    SQLiteStore,
    Store,
    StoreOverloaded,
    StoreUnavailable,
    open_store,
)
from fleetwatch.store.base import Statement, in_steps
from fleetwatch.store.migrate import load_migrations
from fleetwatch.store.postgres import mask_password
from fleetwatch.store.query import Dialect

pytestmark = pytest.mark.anyio

T0 = 1_700_000_000.0


def schema_versions(url: str) -> list[tuple[int, str]]:
    """What schema_migrations holds, read straight from the database."""
    query = "SELECT version, name FROM schema_migrations ORDER BY version"
    if url.startswith("sqlite:"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            return [(int(v), str(n)) for v, n in conn.execute(query)]
    with psycopg.connect(url) as pg:
        return [(int(v), str(n)) for v, n in pg.execute(query)]


def event(system_id: int, begin: float, **changes: Any) -> EventRecord:
    fields: dict[str, Any] = {
        "id": None,
        "system_id": system_id,
        "begin": begin,
        "end": -1.0,
        "state": "WARNING",
        "type": "CPU",
        "value_max": 80.0,
        "value_avg": 75.0,
        "value_min": 70.0,
        "value_sum": 150.0,
        "count": 2,
        "top": ["python", "postgres"],
        "desc": "",
        "sort": "cpu_percent",
        "global_msg": "High CPU user mode",
        "data": {"threshold": 70},
    }
    fields.update(changes)
    return EventRecord(**fields)


# -- opening and migrations


def _dialect(store_url: str) -> Dialect:
    return "sqlite" if store_url.startswith("sqlite") else "postgres"


async def test_migrations_recorded_and_reopen_idempotent(store_url: str) -> None:
    expected = [(m.version, m.name) for m in load_migrations(_dialect(store_url))]
    first = open_store(store_url)
    await first.open()
    system = await first.add_system("kept")
    await first.close()
    assert schema_versions(store_url) == expected

    again = open_store(store_url)
    await again.open()
    try:
        assert await again.get_system("kept") == system
    finally:
        await again.close()
    assert schema_versions(store_url) == expected


async def test_concurrent_opens_migrate_once(store_url: str) -> None:
    stores = [open_store(store_url) for _ in range(3)]
    await asyncio.gather(*(s.open() for s in stores))
    await asyncio.gather(*(s.close() for s in stores))
    assert [v for v, _ in schema_versions(store_url)] == [
        m.version for m in load_migrations(_dialect(store_url))
    ]


def test_open_store_rejects_unknown_scheme() -> None:
    with pytest.raises(ValueError, match="mysql"):
        open_store("mysql://root@localhost/fleetwatch")


def test_open_store_reads_sqlite_paths_and_masks_passwords() -> None:
    absolute = open_store("sqlite:////var/lib/fw.db")
    assert isinstance(absolute, SQLiteStore)
    assert absolute.path == "/var/lib/fw.db"
    assert absolute.url == "sqlite:////var/lib/fw.db"
    assert isinstance(relative := open_store("sqlite:///data/fw.db"), SQLiteStore)
    assert relative.path == os.path.abspath("data/fw.db")
    for bad in ("sqlite://data/fw.db", "sqlite:fw.db", "sqlite:///", "sqlite:///:memory:"):
        with pytest.raises(ValueError, match="SQLite"):
            open_store(bad)
    pg = open_store("postgres://fw:s3cret@db.example:5432/fw?sslmode=require&password=x")
    assert pg.url == "postgres://fw:***@db.example:5432/fw?sslmode=require&password=***"
    assert mask_password("postgresql://fw@db/fw") == "postgresql://fw@db/fw"


async def test_unopenable_sqlite_file_is_unavailable(tmp_path: Path, anyio_backend: str) -> None:
    unopenable = open_store(f"sqlite:///{tmp_path / 'missing-dir' / 'fw.db'}")
    with pytest.raises(StoreUnavailable) as caught:
        await unopenable.open()
    assert isinstance(caught.value.__cause__, sqlite3.Error)


async def test_unreachable_postgres_is_unavailable(anyio_backend: str) -> None:
    # Port 1 on loopback refuses at once; nothing listens there.
    unreachable = open_store("postgresql://postgres@127.0.0.1:1/fw")
    with pytest.raises(StoreUnavailable) as caught:
        await unreachable.open()
    assert isinstance(caught.value.__cause__, psycopg.Error)
    assert caught.value.retry_after > 0


# -- systems


async def test_systems_crud(store: Store) -> None:
    assert await store.list_systems() == []
    web = await store.add_system("web-1", hostname="web-1.example")
    db = await store.add_system("db-1", source="local")
    assert (web.name, web.hostname, web.source, web.last_seen) == (
        "web-1",
        "web-1.example",
        "push",
        None,
    )
    assert web.id != db.id
    assert await store.get_system("web-1") == web
    assert await store.get_system("nope") is None
    assert await store.list_systems() == [db, web]

    await store.touch_system(web.id, T0, None)
    await store.touch_system(db.id, T0 + 1, "db-1.example")
    assert await store.get_system("web-1") == dataclasses.replace(web, last_seen=T0)
    touched = await store.get_system("db-1")
    assert touched is not None
    assert (touched.last_seen, touched.hostname) == (T0 + 1, "db-1.example")

    assert await store.remove_system("web-1") is True
    assert await store.remove_system("web-1") is False
    assert [s.name for s in await store.list_systems()] == ["db-1"]


async def test_duplicate_system_name_conflicts(store: Store) -> None:
    await store.add_system("web-1")
    with pytest.raises(Conflict):
        await store.add_system("web-1")
    assert len(await store.list_systems()) == 1


async def test_touch_unknown_system_is_not_found(store: Store) -> None:
    with pytest.raises(NotFound):
        await store.touch_system(424242, T0, None)


async def test_remove_system_removes_its_snapshots_and_events(store: Store) -> None:
    gone = await store.add_system("gone")
    kept = await store.add_system("kept")
    for system in (gone, kept):
        await store.add_snapshot(system.id, T0, {"a": 1}, {}, "push")
        await store.save_event(event(system.id, T0))
    assert await store.remove_system("gone")
    assert await store.count_snapshots(gone.id) == 0
    assert await store.count_snapshots() == 1
    assert [e.system_id for e in await store.list_events()] == [kept.id]


# -- snapshots


async def test_snapshot_json_round_trip(store: Store) -> None:
    system = await store.add_system("json")
    document = {
        "name": "Zürich 東京 🚀",
        "nested": {"list": [1, 2.5, None, True, {"deep": ["x"]}], "empty": {}},
        "big": [2**63 - 1, -(2**63), 2**64 - 1],
        "float": 0.1 + 0.2,
        "escaped": 'quote " backslash \\ newline \n tab \t',
    }
    normalized = {"cpu": {"total": 12.5}, "labels": ["ünïcode"]}
    snapshot_id = await store.add_snapshot(system.id, T0, document, normalized, "push")
    latest = await store.latest_snapshot(system.id)
    assert latest is not None
    assert (latest.id, latest.system_id, latest.created_at, latest.source) == (
        snapshot_id,
        system.id,
        T0,
        "push",
    )
    assert latest.document == document
    assert latest.normalized == normalized


async def test_unstorable_documents_are_refused(store: Store) -> None:
    system = await store.add_system("bad-json")
    with pytest.raises(ValueError, match="64-bit"):
        await store.add_snapshot(system.id, T0, {"huge": 2**64}, {}, "push")
    with pytest.raises(ValueError, match="U\\+0000"):
        await store.add_snapshot(system.id, T0, {"nul": "a\x00b"}, {}, "push")
    # A literal backslash-u0000 is ordinary text.
    await store.add_snapshot(system.id, T0, {"text": "\\u0000"}, {}, "push")
    assert await store.count_snapshots(system.id) == 1


async def test_snapshot_queries(store: Store) -> None:
    system = await store.add_system("queried")
    other = await store.add_system("other")
    ids = [
        await store.add_snapshot(system.id, T0 + i, {"i": i}, {"i": i}, "push") for i in range(10)
    ]
    await store.add_snapshot(other.id, T0 + 100, {}, {}, "push")

    latest = await store.latest_snapshot(system.id)
    assert latest is not None
    assert latest.id == ids[-1]
    assert await store.latest_snapshot(999_999) is None

    everything = await store.snapshots(system.id)
    assert [s.id for s in everything] == ids[::-1]
    oldest_first = await store.snapshots(system.id, newest_first=False, limit=3)
    assert [s.id for s in oldest_first] == ids[:3]
    window = await store.snapshots(system.id, since=T0 + 2, until=T0 + 5)
    assert [s.document["i"] for s in window] == [4, 3, 2]  # since inclusive, until exclusive
    assert [s.id for s in await store.snapshots(system.id, since=T0 + 8)] == ids[:7:-1]
    assert [s.id for s in await store.snapshots(system.id, until=T0 + 1)] == [ids[0]]
    assert await store.snapshots(system.id, limit=0) == []


async def test_count_snapshots(store: Store) -> None:
    first = await store.add_system("first")
    second = await store.add_system("second")
    for i in range(3):
        await store.add_snapshot(first.id, T0 + i, {}, {}, "push")
    await store.add_snapshot(second.id, T0, {}, {}, "push")
    assert await store.count_snapshots(first.id) == 3
    assert await store.count_snapshots(second.id) == 1
    assert await store.count_snapshots() == 4


async def test_prune_snapshots_in_batches(store: Store) -> None:
    first = await store.add_system("first")
    second = await store.add_system("second")
    await asyncio.gather(
        *(store.add_snapshot(first.id, T0 + i, {"i": i}, {}, "push") for i in range(23)),
        *(store.add_snapshot(second.id, T0 + i, {"i": i}, {}, "push") for i in range(5)),
    )
    # 20 + 5 older than T0 + 20, deleted four at a time.
    assert await store.prune_snapshots(T0 + 20, batch=4) == 25
    assert await store.count_snapshots() == 3
    remaining = await store.snapshots(first.id, newest_first=False)
    assert [s.document["i"] for s in remaining] == [20, 21, 22]
    assert await store.prune_snapshots(T0 + 20, batch=4) == 0


# -- events


async def test_events_insert_update_list(store: Store) -> None:
    cpu = await store.add_system("cpu")
    mem = await store.add_system("mem")
    first_id = await store.save_event(event(cpu.id, T0))
    second_id = await store.save_event(event(mem.id, T0 + 10, type="MEM", data={}))
    third_id = await store.save_event(event(cpu.id, T0 + 20, top=[], desc="a note"))
    assert len({first_id, second_id, third_id}) == 3

    listed = await store.list_events()
    assert [e.id for e in listed] == [third_id, second_id, first_id]
    assert listed[-1] == event(cpu.id, T0, id=first_id)

    finished = event(cpu.id, T0, id=first_id, end=T0 + 5, state="CRITICAL", count=3)
    assert await store.save_event(finished) == first_id
    assert [e.id for e in await store.list_events(system_id=cpu.id)] == [third_id, first_id]
    assert [e.id for e in await store.list_events(open_only=True)] == [third_id, second_id]
    assert [e.id for e in await store.list_events(limit=1)] == [third_id]
    assert (await store.list_events(system_id=cpu.id))[-1] == finished

    with pytest.raises(NotFound):
        await store.save_event(event(cpu.id, T0, id=987_654))


async def test_delete_events(store: Store) -> None:
    one = await store.add_system("one")
    two = await store.add_system("two")
    await store.save_event(event(one.id, T0, end=T0 + 1, state="WARNING"))
    await store.save_event(event(one.id, T0 + 1, end=T0 + 2, state="CRITICAL"))
    await store.save_event(event(one.id, T0 + 2))  # ongoing
    await store.save_event(event(two.id, T0, end=T0 + 1))

    assert await store.delete_events(system_id=one.id, finished_only=True, state="WARNING") == 1
    assert await store.delete_events(system_id=one.id, finished_only=True) == 1
    assert [e.end for e in await store.list_events(system_id=one.id)] == [-1.0]
    assert await store.delete_events(system_id=None, finished_only=False) == 2
    assert await store.list_events() == []


# -- the group-commit writer, through the real backends


async def test_concurrent_add_snapshot_ids_are_distinct_and_readable(store: Store) -> None:
    system = await store.add_system("busy")
    ids = await asyncio.gather(
        *(store.add_snapshot(system.id, T0 + i, {"i": i}, {}, "push") for i in range(2000))
    )
    assert len(set(ids)) == 2000
    assert await store.count_snapshots(system.id) == 2000
    stored = await store.snapshots(system.id, limit=5000)
    assert {s.id for s in stored} == set(ids)
    assert {s.id: s.document["i"] for s in stored} == {i: n for n, i in enumerate(ids)}


async def test_full_queue_raises_overloaded(store_url: str) -> None:
    tiny = open_store(store_url, max_queue=5, max_delay_seconds=0.05)
    await tiny.open()
    try:
        system = await tiny.add_system("flood")
        outcomes = await asyncio.gather(
            *(tiny.add_snapshot(system.id, T0, {"i": i}, {}, "push") for i in range(50)),
            return_exceptions=True,
        )
        refused = [o for o in outcomes if isinstance(o, BaseException)]
        accepted = [o for o in outcomes if isinstance(o, int)]
        # Every call queues before the writer runs: the queue takes five, the rest are refused.
        assert len(accepted) == 5
        assert len(refused) == 45
        assert all(isinstance(e, StoreOverloaded) and e.retry_after == 1.0 for e in refused)
        assert {s.id for s in await tiny.snapshots(system.id)} == set(accepted)
    finally:
        await tiny.close()


async def test_one_failing_write_fails_only_its_caller(store: Store) -> None:
    existing = await store.add_system("existing")
    outcomes = await asyncio.gather(
        store.add_system("fresh-1"),
        store.add_system("existing"),
        store.add_snapshot(existing.id, T0, {}, {}, "push"),
        store.add_snapshot(10_000_000, T0, {}, {}, "push"),
        store.add_system("fresh-2"),
        return_exceptions=True,
    )
    assert isinstance(outcomes[1], Conflict)
    assert isinstance(outcomes[3], NotFound)
    assert not any(isinstance(o, BaseException) for o in (outcomes[0], outcomes[2], outcomes[4]))
    names = [s.name for s in await store.list_systems()]
    assert names == ["existing", "fresh-1", "fresh-2"]
    assert await store.count_snapshots() == 1


async def test_close_drains_pending_writes(store_url: str) -> None:
    setup = open_store(store_url)
    await setup.open()
    system = await setup.add_system("drained")
    await setup.close()
    # A long delay keeps the writes queued when close() is called.
    first = open_store(store_url, max_delay_seconds=5.0)
    await first.open()
    tasks = [
        asyncio.create_task(first.add_snapshot(system.id, T0 + i, {}, {}, "push"))
        for i in range(300)
    ]
    await asyncio.sleep(0)  # every task queues its write
    started = time.monotonic()
    await first.close()
    assert time.monotonic() - started < 4.0  # close() commits at once, not after the delay
    assert all(task.done() for task in tasks)
    ids = [task.result() for task in tasks]
    with pytest.raises(StoreUnavailable):
        await first.add_snapshot(system.id, T0, {}, {}, "push")

    reopened = open_store(store_url)
    await reopened.open()
    try:
        assert {s.id for s in await reopened.snapshots(system.id)} == set(ids)
    finally:
        await reopened.close()


async def test_second_store_sees_committed_writes(store: Store, store_url: str) -> None:
    # Like the CLI next to a running hub: its own connections, both writing.
    cli = open_store(store_url)
    await cli.open()
    try:
        system = await store.add_system("shared")
        snapshot_id = await store.add_snapshot(system.id, T0, {"from": "hub"}, {}, "push")
        seen = await cli.latest_snapshot(system.id)
        assert seen is not None
        assert seen.id == snapshot_id
        await cli.add_system("from-cli")
        assert await store.get_system("from-cli") is not None
    finally:
        await cli.close()


KILLED_WRITER = """
import asyncio, sys, time
from fleetwatch.store import open_store

async def main(url):
    store = open_store(url)
    await store.open()
    system = await store.add_system("victim")

    async def one(i):
        snapshot_id = await store.add_snapshot(system.id, time.time(), {"i": i}, {}, "push")
        sys.stdout.write(f"{snapshot_id}\\n")
        sys.stdout.flush()

    i = 0
    while True:
        await asyncio.gather(*(one(i + k) for k in range(64)))
        i += 64

asyncio.run(main(sys.argv[1]))
"""


async def test_acknowledged_writes_survive_kill(store_url: str) -> None:
    child = subprocess.Popen(
        [sys.executable, "-c", KILLED_WRITER, store_url],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    watchdog = threading.Timer(30, child.kill)
    watchdog.start()
    assert child.stdout is not None
    acknowledged: list[int] = []
    try:
        for line in child.stdout:
            acknowledged.append(int(line))
            if len(acknowledged) >= 500:
                child.send_signal(signal.SIGKILL)  # mid-burst: more writes are in flight
                break
        child.wait(timeout=10)
        # Lines written before the kill are still in the pipe; each is an acknowledged write.
        acknowledged.extend(int(line) for line in child.stdout)
    finally:
        watchdog.cancel()
        child.kill()
        child.wait()
        child.stdout.close()
        assert child.stderr is not None
        errors = child.stderr.read()
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL, errors
    assert len(acknowledged) >= 500

    reopened = open_store(store_url)
    await reopened.open()
    try:
        victim = await reopened.get_system("victim")
        assert victim is not None
        stored = {s.id for s in await reopened.snapshots(victim.id, limit=1_000_000)}
    finally:
        await reopened.close()
    assert set(acknowledged) <= stored


@pytest.mark.postgres
async def test_postgres_reconnects_after_connection_loss(
    postgres_url: str, postgres_admin_url: str, anyio_backend: str
) -> None:
    store = open_store(postgres_url)
    await store.open()
    try:
        system = await store.add_system("flaky")
        database = postgres_url.rsplit("/", 1)[1]
        with psycopg.connect(postgres_admin_url, autocommit=True) as admin:
            admin.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = %s AND pid <> pg_backend_pid()",
                (database,),
            )
        # The group in flight when the connection died fails; the next one reconnects.
        with pytest.raises(StoreUnavailable):
            await store.add_snapshot(system.id, T0, {}, {}, "push")
        snapshot_id = await store.add_snapshot(system.id, T0, {}, {}, "push")
        latest = await store.latest_snapshot(system.id)
        assert latest is not None
        assert latest.id == snapshot_id
    finally:
        await store.close()


# -- the group-commit writer on its own


async def test_writer_refuses_when_queue_full(anyio_backend: str) -> None:
    apply = Recorder()
    apply.gate.clear()
    writer: GroupCommitWriter[int, int] = GroupCommitWriter(
        apply, max_batch=10, max_delay_seconds=0, max_queue=3
    )
    writer.start()
    held = writer.submit(1)
    while not apply.groups:  # the writer has taken op 1 and is held in apply
        await asyncio.sleep(0)
    queued = [writer.submit(op) for op in (2, 3, 4)]
    with pytest.raises(StoreOverloaded) as caught:
        writer.submit(5)
    assert caught.value.retry_after == 1.0
    apply.gate.set()
    assert await held == 10
    assert await asyncio.gather(*queued) == [20, 30, 40]
    await writer.close()
    assert apply.groups == [[1], [2, 3, 4]]


async def test_writer_queues_related_writes_all_or_none(anyio_backend: str) -> None:
    """A check result's writes go in together: with room for only some, none is queued."""
    apply = Recorder()
    apply.gate.clear()
    writer: GroupCommitWriter[int, int] = GroupCommitWriter(
        apply, max_batch=10, max_delay_seconds=0, max_queue=3
    )
    writer.start()
    held = writer.submit(1)
    while not apply.groups:
        await asyncio.sleep(0)
    first = writer.submit_all([2, 3])
    with pytest.raises(StoreOverloaded):
        writer.submit_all([4, 5])
    assert writer.pending == 2
    apply.gate.set()
    assert await held == 10
    assert await asyncio.gather(*first) == [20, 30]
    await writer.close()
    assert apply.groups == [[1], [2, 3]]


async def test_writer_groups_up_to_max_batch(anyio_backend: str) -> None:
    apply = Recorder()
    writer: GroupCommitWriter[int, int] = GroupCommitWriter(
        apply, max_batch=4, max_delay_seconds=0.05
    )
    writer.start()
    results = await asyncio.gather(*(writer.submit(op) for op in range(10)))
    await writer.close()
    assert results == [op * 10 for op in range(10)]
    assert apply.groups == [[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]


async def test_writer_retries_a_failed_group_one_by_one(anyio_backend: str) -> None:
    apply = Recorder()
    writer: GroupCommitWriter[int, int] = GroupCommitWriter(apply, max_delay_seconds=0.01)
    writer.start()
    outcomes = await asyncio.gather(
        writer.submit(1), writer.submit(-1), writer.submit(3), return_exceptions=True
    )
    await writer.close()
    assert outcomes[0] == 10
    assert isinstance(outcomes[1], Conflict)
    assert outcomes[2] == 30
    assert apply.groups == [[1, -1, 3], [1], [-1], [3]]


async def test_writer_fails_every_caller_when_unavailable(anyio_backend: str) -> None:
    groups: list[list[int]] = []

    async def down(ops: Sequence[int]) -> list[int]:
        groups.append(list(ops))
        raise StoreUnavailable("database gone", retry_after=2.5)

    writer: GroupCommitWriter[int, int] = GroupCommitWriter(down, max_delay_seconds=0.01)
    writer.start()
    outcomes = await asyncio.gather(*(writer.submit(op) for op in range(3)), return_exceptions=True)
    await writer.close()
    assert groups == [[0, 1, 2]]  # no pointless one-by-one retries against a dead database
    assert all(isinstance(o, StoreUnavailable) and o.retry_after == 2.5 for o in outcomes)
    assert len({id(o) for o in outcomes}) == 3


async def test_writer_close_commits_without_waiting_for_the_delay(anyio_backend: str) -> None:
    apply = Recorder()
    writer: GroupCommitWriter[int, int] = GroupCommitWriter(apply, max_delay_seconds=60)
    writer.start()
    futures = [writer.submit(op) for op in range(3)]
    await asyncio.wait_for(writer.close(), timeout=5)
    assert [f.result() for f in futures] == [0, 10, 20]
    with pytest.raises(StoreUnavailable):
        writer.submit(4)


def test_a_group_runs_by_step_then_as_queued() -> None:
    """Each multi-statement write keeps its own order; a group's kinds run side by side."""
    batch = [Statement("u1", ()), Statement("r1", (), step=1), Statement("p1", (), step=2),
             Statement("u2", ()), Statement("r2", (), step=1), Statement("other", ())]  # fmt: skip
    assert [batch[i].sql for i in in_steps(batch)] == ["u1", "u2", "other", "r1", "r2", "p1"]
    plain = [Statement("a", ()), Statement("b", ())]
    assert in_steps(plain) == [0, 1]
