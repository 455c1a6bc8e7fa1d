"""A check's new state and its event are one commit (both backends), so a ``kill -9`` between
two commits can no longer keep the state change and lose its event and notification; and the
store writer keeps the writes of one ``submit_all`` in one transaction, all or none."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest
from writer_recorder import Recorder

from fleetwatch.engine.checks import CheckService
from fleetwatch.store import Conflict, GroupCommitWriter, Store, open_store

pytestmark = pytest.mark.anyio

T0 = 1_700_000_000.0


class Commits:
    def __init__(self) -> None:
        self.count = 0

    def __call__(self, seconds: float) -> None:
        self.count += 1


@pytest.fixture
async def counted(store_url: str, anyio_backend: str) -> AsyncIterator[tuple[Store, Commits]]:
    commits = Commits()
    opened = open_store(store_url, on_commit=commits)
    await opened.open()
    try:
        yield opened, commits
    finally:
        await opened.close()


async def events_of(store: Store, kind: str) -> list[str]:
    return [e.desc for e in await store.list_events(limit=100) if e.type == kind]


async def test_a_hard_change_and_its_event_are_one_commit(
    counted: tuple[Store, Commits],
) -> None:
    store, commits = counted
    checks = CheckService(store, clock=lambda: T0)
    await checks.prepare()
    await store.add_check_object("host", "web1")
    await store.add_check_object("service", "web1", "backup")
    await store.add_check_object("service", "web1", "stale",
                                 freshness_threshold=60)  # fmt: skip
    before = commits.count
    transition = await checks.process_result("web1", "backup", 2, "CRITICAL: disk full", now=T0)
    assert transition.hard_change
    assert commits.count == before + 1  # state, result and event: one transaction
    assert await events_of(store, "CHECK_HARD_STATE") == ["web1;backup: OK -> CRITICAL"]

    await checks.process_result("web1", "stale", 0, "OK", now=T0)
    [due] = await store.due_check_objects(T0 + 120)
    before = commits.count
    assert await checks.mark_stale(due, now=T0 + 120)
    assert commits.count == before + 1
    assert len(await events_of(store, "CHECK_STALE")) == 1


async def test_no_event_when_the_state_was_not_saved(store: Store) -> None:
    checks = CheckService(store, clock=lambda: T0)
    await checks.prepare()
    await store.add_check_object("host", "web1")
    await store.add_check_object("service", "web1", "disk",
                                 freshness_threshold=60)  # fmt: skip
    await checks.process_result("web1", "disk", 0, "OK", now=T0)
    [due] = await store.due_check_objects(T0 + 120)
    await checks.process_result("web1", "disk", 0, "OK again", now=T0 + 100)  # came meanwhile
    assert not await checks.mark_stale(due, now=T0 + 120)
    assert await events_of(store, "CHECK_STALE") == []


async def test_the_writer_never_splits_a_unit(anyio_backend: str) -> None:
    apply = Recorder()
    apply.gate.clear()
    writer: GroupCommitWriter[int, int] = GroupCommitWriter(apply, max_batch=3)
    writer.start()
    held = writer.submit(1)
    while not apply.groups:
        await asyncio.sleep(0)
    alone = writer.submit(2)
    unit = writer.submit_all([3, 4, 5])  # past max_batch: the group grows to hold it whole
    after = writer.submit(6)
    apply.gate.set()
    assert await asyncio.gather(held, alone, *unit, after) == [10, 20, 30, 40, 50, 60]
    await writer.close()
    assert apply.groups == [[1], [2, 3, 4, 5], [6]]


async def test_a_failing_unit_fails_whole_and_alone(anyio_backend: str) -> None:
    apply = Recorder()
    apply.gate.clear()
    writer: GroupCommitWriter[int, int] = GroupCommitWriter(apply, max_batch=10)
    writer.start()
    held = writer.submit(1)
    while not apply.groups:
        await asyncio.sleep(0)
    good = writer.submit_all([2, 3])
    bad = writer.submit_all([4, -5])
    alone = writer.submit(6)
    apply.gate.set()
    assert await held == 10
    assert await asyncio.gather(*good, alone) == [20, 30, 60]
    for future in bad:
        with pytest.raises(Conflict):
            await future
    await writer.close()
    # The group failed, then each unit (and each lone write) was tried in its own transaction:
    # 4 was never committed without -5.
    assert apply.groups == [[1], [2, 3, 4, -5, 6], [2, 3], [4, -5], [6]]
