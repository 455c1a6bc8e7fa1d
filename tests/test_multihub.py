"""Several hubs on one database, in process: two stores on one PostgreSQL database stand for
two hubs (fleet-wide locks, one STALE per silence, shared failed logins); SQLite keeps its one
hub per file on the same code."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
from collections.abc import AsyncIterator
from pathlib import Path

import anyio
import psycopg
import pytest

from fleetwatch.api.errors import Unauthorized
from fleetwatch.auth.admin import Actor, Admin
from fleetwatch.auth.authenticator import Authenticator
from fleetwatch.auth.ratelimit import CredentialLimiter
from fleetwatch.auth.secrets import PasswordHashing
from fleetwatch.auth.shared_limits import SharedLimits
from fleetwatch.engine.checks import EVENTS_SYSTEM, CheckService
from fleetwatch.engine.event_stream import EventStreams
from fleetwatch.engine.staleness import StalenessWatcher
from fleetwatch.store import EventRecord, Store, StoreError, open_store
from fleetwatch.store.pg_locks import LOCK_CLASS, lock_keys

MIGRATIONS = Path(__file__).resolve().parent.parent / "fleetwatch" / "store" / "migrations"

pytestmark = pytest.mark.anyio


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def two(postgres_url: str, anyio_backend: str) -> AsyncIterator[tuple[Store, Store]]:
    a, b = open_store(postgres_url), open_store(postgres_url)
    await a.open()
    await b.open()
    try:
        yield a, b
    finally:
        await a.close()
        await b.close()


@pytest.mark.postgres
async def test_a_lock_is_one_hubs_until_it_goes(two: tuple[Store, Store]) -> None:
    a, b = two
    assert await a.hold_lock("job:x")
    assert await a.hold_lock("job:x")  # kept
    assert not await b.hold_lock("job:x")
    assert await b.hold_lock("job:y")  # locks are apart
    await a.close()  # as a killed hub's connection: the server frees its locks, at once or so
    for _ in range(50):
        if await b.hold_lock("job:x"):
            break
        await anyio.sleep(0.02)
    assert await b.hold_lock("job:x")


def lock_holder(url: str, name: str) -> int | None:
    """The server process holding the fleet-wide lock ``name`` (None: nobody)."""
    _, key = lock_keys(name)
    with psycopg.connect(url, autocommit=True) as conn:
        row = conn.execute(
            "SELECT pid FROM pg_locks WHERE locktype = 'advisory' AND classid = %s"
            " AND objid = %s AND objsubid = 2 AND granted", (LOCK_CLASS, key)
        ).fetchone()  # fmt: skip
    return int(row[0]) if row else None


def cut(url: str, pid: int) -> None:
    """The lock connection lost, as in a database restart or a network cut."""
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("SELECT pg_terminate_backend(%s)", (pid,))


@pytest.mark.postgres
async def test_a_lost_lock_connection_takes_the_hubs_name_again(
    two: tuple[Store, Store], postgres_url: str, caplog: pytest.LogCaptureFixture
) -> None:
    a, b = two
    assert await a.hold_lock("local-system:alpha")
    assert await a.hold_lock("job:x")
    before = lock_holder(postgres_url, "local-system:alpha")
    assert before is not None
    cut(postgres_url, before)
    # The next job tick finds the connection gone, makes another and takes the name again too:
    # nothing else would ask for it, and a second hub on this host would share the system.
    for _ in range(50):
        with contextlib.suppress(StoreError):
            if await a.hold_lock("job:x"):
                break
        await anyio.sleep(0.02)
    after = lock_holder(postgres_url, "local-system:alpha")
    assert after is not None
    assert after != before
    assert not await b.hold_lock("local-system:alpha")

    # Taken by another hub meanwhile: said in the log, and not fought over.
    cut(postgres_url, after)
    for _ in range(50):
        if lock_holder(postgres_url, "local-system:alpha") is None:
            break
        await anyio.sleep(0.02)
    assert await b.hold_lock("local-system:alpha")
    caplog.set_level(logging.WARNING, logger="fleetwatch.store.pg_locks")
    said = "lock local-system:alpha: another hub took it"
    for _ in range(100):  # a's next proof of its connection (each PROVEN_SECONDS) finds it cut
        with contextlib.suppress(StoreError):
            await a.hold_lock("job:x")
        if said in caplog.text:
            break
        await anyio.sleep(0.05)
    assert said in caplog.text
    assert await b.hold_lock("local-system:alpha")
    assert not await a.hold_lock("local-system:alpha")


@pytest.mark.postgres
async def test_two_hubs_one_stale_event_and_the_same_answer(two: tuple[Store, Store]) -> None:
    a, b = two
    system = await a.add_system("nas1")
    clock = Clock()
    one = StalenessWatcher(a, minimum=120.0, clock=clock)
    other = StalenessWatcher(b, minimum=120.0, clock=clock)
    for t, watcher in ((0.0, one), (60.0, other), (120.0, one), (180.0, other)):
        await watcher.seen(system.id, clock.now + t)
        await watcher.flush()
    [rhythm] = (await b.rhythms([system.id])).values()
    assert rhythm.intervals == [60.0, 60.0, 60.0]  # one rhythm, whichever hub was pushed to
    clock.now += 180.0 + 181.0
    assert await one.job.held()
    assert not await other.job.held()
    assert await one.check() == [system.id]
    assert await one.check() == []
    await other.refresh()
    assert one.is_stale(system.id)
    assert other.is_stale(system.id)
    # The system comes back through the hub that does not hold the job: ended once, now.
    await other.seen(system.id, clock.now + 1)
    assert not other.is_stale(system.id)
    await one.check()
    assert not one.is_stale(system.id)
    [ended] = await a.list_events(system_id=system.id)
    assert ended.type == "STALE"
    assert ended.end == clock.now + 1


async def test_the_idle_tick_reads_no_system(store: Store) -> None:
    """Systems well inside their windows are not due: the tick's look-up finds nothing."""
    clock = Clock()
    watcher = StalenessWatcher(store, minimum=120.0, clock=clock)
    for number in range(50):
        system = await store.add_system(f"s{number}")
        await watcher.seen(system.id, clock.now)
    await watcher.flush()
    assert await store.rhythms_due(clock.now + 60.0, 500) == []
    assert await watcher.check() == []
    clock.now += 121.0
    assert len(await watcher.check()) == 50


async def _hub_limits(store: Store) -> tuple[CredentialLimiter, SharedLimits]:
    limiter = CredentialLimiter(max_failures=4, window_seconds=60.0)
    return limiter, SharedLimits(store, limiter)


@pytest.mark.postgres
async def test_failed_logins_are_counted_across_hubs(two: tuple[Store, Store]) -> None:
    a, b = two
    limiter_a, shared_a = await _hub_limits(a)
    limiter_b, shared_b = await _hub_limits(b)
    await shared_b.sync()
    for _ in range(2):  # two on each hub: four in all, the ceiling
        limiter_a.fail("user:alice", "192.0.2.1")
        await shared_a.failed("user:alice", "192.0.2.1")
    for _ in range(2):
        assert limiter_b.retry_after("user:alice", "192.0.2.1") == 0
        limiter_b.fail("user:alice", "192.0.2.1")
        await shared_b.failed("user:alice", "192.0.2.1")  # and reads a's two
    assert limiter_b.retry_after("user:alice", "192.0.2.1") > 0
    await shared_a.sync()
    assert limiter_a.retry_after("user:alice", "192.0.2.1") > 0
    assert limiter_a.retry_after("user:bob", "192.0.2.1") == 0
    # A success on one hub clears the pair's failures on the other too.
    limiter_b.succeed("user:alice", "192.0.2.1")
    await shared_b.succeeded("user:alice", "192.0.2.1")
    await shared_a.sync()
    assert limiter_a.retry_after("user:alice", "192.0.2.1") == 0


@pytest.mark.postgres
async def test_another_hubs_event_reaches_a_live_stream_at_once(two: tuple[Store, Store]) -> None:
    a, b = two
    system = await a.add_system("nas1")
    # Polling every 30 s: only the LISTEN notice can bring the event within the test's second.
    streams = EventStreams(b, checks_system=EVENTS_SYSTEM, poll_seconds=30.0)
    await streams.start()
    stop = asyncio.Event()
    runner = asyncio.create_task(streams.run(stop))
    try:
        stream = await streams.subscribe(None)
        await asyncio.sleep(0.2)  # the runner is listening
        watcher = StalenessWatcher(a, minimum=1.0, clock=lambda: 2_000_000.0)
        await watcher.seen(system.id, 1_000_000.0)
        assert await watcher.check() == [system.id]
        with anyio.fail_after(1.0):
            item = await anext(stream)
        assert item.event == "stale"
        await stream.aclose()
    finally:
        stop.set()
        await runner


@pytest.mark.postgres
async def test_a_check_configured_on_one_hub_is_used_by_the_others(
    two: tuple[Store, Store],
) -> None:
    a, b = two
    clock = Clock()
    checks_b = CheckService(b, clock=clock)
    await checks_b.prepare()
    await a.add_check_object("host", "web1")
    await a.add_check_object("service", "web1", "backup", freshness_threshold=600.0)
    await checks_b.process_result("web1", "backup", 0, "OK")  # b now knows the object
    assert await b.next_due() == clock.now + 600.0
    # Hub a changes the threshold (the API's configure); b's next result uses it.
    assert await a.configure_check_object("web1", "backup", freshness_threshold=60.0,
                                          max_check_attempts=1, stale_state=2,
                                          stale_output="", notes="")  # fmt: skip
    clock.now += 5
    await checks_b.process_result("web1", "backup", 0, "OK")
    assert await a.next_due() == clock.now + 60.0


async def test_systems_from_before_the_migration_keep_their_rhythm(
    store: Store, store_url: str
) -> None:
    """Migration 0012 makes a row per system that pushed: due at once, its intervals read from
    its snapshots by the staleness job (not at start), its open STALE event kept."""
    clock = Clock()
    hourly = await store.add_system("nas-hourly")
    silent = await store.add_system("nas-silent")
    for n in range(4):
        await store.add_snapshot(hourly.id, clock.now - 3600.0 * (3 - n), {}, {}, "push")
    await store.touch_system(hourly.id, clock.now, None)
    await store.touch_system(silent.id, clock.now - 9000.0, None)
    watcher = StalenessWatcher(store, minimum=120.0, clock=clock)
    open_stale = await store.save_event(
        EventRecord(
            id=None,
            system_id=silent.id,
            begin=clock.now - 8000.0,
            end=-1,
            state="CRITICAL",
            type="STALE",
            value_max=1.0,
            value_avg=1.0,
            value_min=1.0,
            value_sum=1.0,
            count=1,
        )
    )
    script = (MIGRATIONS / store.dialect / "0012_multihub.sql").read_text()
    backfill = script[script.index("INSERT INTO system_rhythms") :].split(";")[0]
    if store.dialect == "sqlite":
        with sqlite3.connect(store_url.removeprefix("sqlite:///")) as conn:
            conn.execute(backfill)
    else:
        with psycopg.connect(store_url, autocommit=True) as conn:
            conn.execute(backfill)
    await watcher.restore()
    assert watcher.stale == {silent.id: open_stale}
    clock.now += 600.0  # 10 minutes: late for a 120 s window, not for an hourly rhythm
    assert await watcher.check() == []
    rhythm = (await store.rhythms([hourly.id]))[hourly.id]
    assert rhythm.intervals == [3600.0, 3600.0, 3600.0]
    assert rhythm.due_at == clock.now - 600.0 + 3 * 3600.0
    assert len(await store.list_events(system_id=silent.id)) == 1


@pytest.mark.postgres
async def test_a_sign_in_writes_nothing_for_the_limiter_unless_it_clears_failures(
    two: tuple[Store, Store],
) -> None:
    a, _ = two
    hashing = PasswordHashing()
    await Admin(a, hashing).add_user(Actor("t", "127.0.0.1"), "alice", "alice password", [])
    limiter = CredentialLimiter()
    auth = Authenticator(a, hashing=hashing, limiter=limiter)
    auth.shared = SharedLimits(a, limiter)

    async def marks() -> int:
        rows = await a.select("SELECT count(*) FROM auth_failures", {}, time_limit=5)
        return int(rows[0][0])

    await auth.login("alice", "alice password", "192.0.2.7")
    assert await marks() == 0
    with pytest.raises(Unauthorized):
        await auth.login("alice", "wrong", "192.0.2.7")
    assert await marks() == 1
    await auth.login("alice", "alice password", "192.0.2.7")  # clears the failure, everywhere
    assert await marks() == 2
    await auth.login("alice", "alice password", "192.0.2.7")
    assert await marks() == 2


async def test_a_stale_system_removed_is_stale_no_more(store: Store) -> None:
    clock = Clock()
    system = await store.add_system("gone")
    watcher = StalenessWatcher(store, minimum=120.0, clock=clock)
    await watcher.seen(system.id, clock.now)
    clock.now += 121.0
    assert await watcher.check() == [system.id]
    assert await store.remove_system("gone")
    await watcher.refresh()
    assert watcher.stale == {}
