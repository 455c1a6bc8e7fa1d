"""The passive-checks part of the storage contract, on SQLite and PostgreSQL (``store``)."""

from __future__ import annotations

import dataclasses
import sqlite3
import time
from pathlib import Path

import pytest

from fleetwatch.store import Conflict, NotFound, SQLiteStore, Store
from fleetwatch.store.checks import CheckResultRecord, PerfPoint
from fleetwatch.store.errors import InvalidInput

pytestmark = pytest.mark.anyio


async def test_hosts_and_services(store: Store) -> None:
    host = await store.add_check_object("host", "web1", notes="rack 4")
    assert host.is_host
    assert host.stale_state == 1
    assert not host.check_freshness
    assert host.fresh_due_at is None
    assert not host.has_been_checked
    svc = await store.add_check_object("service", "web1", "Backup", freshness_threshold=60)
    assert svc.host_id == host.id
    assert svc.check_freshness
    assert svc.freshness_threshold == 60
    assert svc.stale_state == 2
    assert svc.max_check_attempts == 1
    assert svc.passive_checks_enabled
    assert svc.fresh_due_at is not None
    assert abs(svc.fresh_due_at - (svc.created_at + 60)) < 1e-6
    assert await store.get_check_object("web1", "Backup") == svc
    assert await store.get_check_object("web1") == host
    assert await store.check_object_by_id(host.id) == host
    with pytest.raises(Conflict):
        await store.add_check_object("service", "web1", "Backup")
    with pytest.raises(NotFound):
        await store.add_check_object("service", "nohost", "Backup")
    with pytest.raises(ValueError, match="freshness"):
        await store.add_check_object("service", "web1", "X", freshness_threshold=0)
    await store.add_check_object("host", "db1")
    await store.add_check_object("service", "db1", "Disk", max_check_attempts=3)
    names = [o.display_name for o in await store.list_check_objects()]
    assert names == ["db1", "db1;Disk", "web1", "web1;Backup"]
    assert [o.display_name for o in await store.list_check_objects("service")] == [
        "db1;Disk",
        "web1;Backup",
    ]
    assert len(await store.list_check_objects(host_name="web1")) == 2
    assert await store.remove_check_object("web1", "Backup")
    assert not await store.remove_check_object("web1", "Backup")
    assert await store.remove_check_object("db1")  # with its services
    assert [o.display_name for o in await store.list_check_objects()] == ["web1"]


async def test_results_state_history_and_perfdata(store: Store) -> None:
    await store.add_check_object("host", "h")
    svc = await store.add_check_object("service", "h", "s", freshness_threshold=30)
    now = time.time()
    for i, value in enumerate((1.5, None, 3.0)):
        after = dataclasses.replace(
            svc, state=2, state_type="HARD", output=f"run {i}", has_been_checked=True,
            last_check=now + i, last_state_change=now, last_hard_state=2, fresh_due_at=now + i + 30,
            version=i,
        )  # fmt: skip
        result = CheckResultRecord(None, svc.id, now + i, 2, "HARD", 1, f"run {i}", "", "t=1s",
                                   "passive")  # fmt: skip
        assert await store.record_check_result(after, result, [PerfPoint("t", value, "s")])
    got = await store.get_check_object("h", "s")
    assert got is not None
    assert got.output == "run 2"
    assert got.state == 2
    assert got.has_been_checked
    assert got.fresh_due_at == pytest.approx(now + 32)
    history = await store.check_results(svc.id)
    assert [r.output for r in history] == ["run 2", "run 1", "run 0"]
    assert history[0].perfdata == "t=1s"
    assert history[0].source == "passive"
    series = await store.perf_series(svc.id, "t")
    assert [v for _, v in series] == [1.5, None, 3.0]
    [(at, value)] = await store.perf_series(svc.id, "t", since=now + 1.5)
    assert at == pytest.approx(now + 2)
    assert value == 3.0


async def test_the_freshness_due_index(store: Store) -> None:
    await store.add_check_object("host", "h")
    a = await store.add_check_object("service", "h", "a", freshness_threshold=100)
    b = await store.add_check_object("service", "h", "b", freshness_threshold=1)
    await store.add_check_object("service", "h", "c")
    now = time.time()
    assert await store.next_due() == pytest.approx(b.fresh_due_at)
    assert b.fresh_due_at is not None
    assert a.fresh_due_at is not None
    assert [o.service_description for o in await store.due_check_objects(b.fresh_due_at)] == ["b"]
    assert await store.due_check_objects(b.fresh_due_at - 0.5) == []
    # Marking stale only while still due: a result that came meanwhile wins.
    stale = dataclasses.replace(b, state=2, is_stale=True, fresh_due_at=None)
    result = CheckResultRecord(None, b.id, b.fresh_due_at, 2, "HARD", 1, "stale", "", "", "stale")
    assert not await store.record_check_result(stale, result, only_if_due_at=b.fresh_due_at - 1)
    assert await store.record_check_result(stale, result, only_if_due_at=b.fresh_due_at)
    assert not await store.record_check_result(stale, result, only_if_due_at=b.fresh_due_at)
    assert [r.source for r in await store.check_results(b.id)] == ["stale"]
    # A state computed from an old version is not saved, nor its result.
    await store.set_acknowledgement(a.id, "ann", "", sticky=False, notify=False,
                                    persistent=False, at=now)  # fmt: skip
    old = dataclasses.replace(a, state=1, fresh_due_at=None)
    late = CheckResultRecord(None, a.id, now, 1, "HARD", 1, "late", "", "", "passive")
    assert not await store.record_check_result(old, late, [PerfPoint("x", 1.0)])
    assert await store.check_results(a.id) == []
    assert await store.perf_series(a.id, "x") == []
    current = await store.get_check_object("h", "a")
    assert current is not None
    assert current.version == 1
    assert current.acknowledged
    assert await store.next_due() == pytest.approx(a.fresh_due_at)


async def test_acknowledgements_and_downtimes(store: Store) -> None:
    await store.add_check_object("host", "h")
    svc = await store.add_check_object("service", "h", "s")
    now = time.time()
    await store.set_acknowledgement(svc.id, "ann", "on it", sticky=True, notify=False,
                                    persistent=False, at=now)  # fmt: skip
    got = await store.get_check_object("h", "s")
    assert got is not None
    assert got.acknowledged
    assert got.ack_sticky
    assert await store.remove_acknowledgement(svc.id, now)
    assert not await store.remove_acknowledgement(svc.id, now)
    got = await store.get_check_object("h", "s")
    assert got is not None
    assert not got.acknowledged
    with pytest.raises(ValueError, match="end_time"):
        await store.add_downtime(svc.id, "ann", "", start_time=now, end_time=now, fixed=True,
                                 duration=0, at=now)  # fmt: skip
    down = await store.add_downtime(svc.id, "ann", "patching", start_time=now + 5,
                                    end_time=now + 10, fixed=True, duration=0, at=now)  # fmt: skip
    assert await store.get_downtime(down.id) == down
    assert await store.list_downtimes(svc.id) == [down]
    assert await store.next_due() == pytest.approx(now + 5)
    assert await store.due_downtimes(now) == []
    assert await store.due_downtimes(now + 5) == [down]
    assert await store.move_downtime(down, started_at=now + 5, ended_at=None, next_at=now + 10,
                                     depth_change=1)  # fmt: skip
    assert not await store.move_downtime(down, started_at=now + 5, ended_at=None,
                                         next_at=now + 10, depth_change=1)  # fmt: skip
    got = await store.get_check_object("h", "s")
    assert got is not None
    assert got.downtime_depth == 1
    started = await store.get_downtime(down.id)
    assert started is not None
    assert started.next_at == pytest.approx(now + 10)
    assert await store.move_downtime(started, started_at=started.started_at, ended_at=now + 10,
                                     next_at=None, depth_change=-1)  # fmt: skip
    got = await store.get_check_object("h", "s")
    assert got is not None
    assert got.downtime_depth == 0
    assert await store.list_downtimes(svc.id) == []
    assert await store.next_due() is None


async def test_the_due_query_uses_the_index(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "fw.db")
    await store.open()
    await store.close()
    with sqlite3.connect(tmp_path / "fw.db") as conn:
        plan = conn.execute(
            "EXPLAIN QUERY PLAN SELECT id FROM check_objects WHERE fresh_due_at IS NOT NULL"
            " AND fresh_due_at <= 1 ORDER BY fresh_due_at LIMIT 10"
        ).fetchall()
    assert "check_objects_fresh_due" in str(plan)


async def test_every_column_of_a_results_points_in_one_write(store: Store) -> None:
    # A result's points are written in one statement (a JSON array of rows): every column
    # keeps its value, text with quotes and non-ASCII included, in the order given.
    await store.add_check_object("host", "h")
    svc = await store.add_check_object("service", "h", "s")
    now = time.time()
    points = [
        PerfPoint("it's 'x'", 1.5, "%", "@10:20", "~:5", 0.0, 100.0),
        PerfPoint("température", None, "", "", "", None, None),
        *(PerfPoint(f"l{i}", float(i), "B", "1", "2", -1e300, 1e300) for i in range(998)),
    ]
    after = dataclasses.replace(svc, state=0, has_been_checked=True, last_check=now)
    result = CheckResultRecord(None, svc.id, now, 0, "HARD", 1, "ok", "", "", "passive")
    assert await store.record_check_result(after, result, points)
    sql = (
        "SELECT label, value, uom, warn, crit, min_value, max_value, at FROM perf_values"
        " WHERE object_id = ? ORDER BY id"
    )
    rows = await store._select(sql, (svc.id,))  # type: ignore[attr-defined]
    assert [PerfPoint(*row[:7]) for row in rows] == points
    assert all(row[7] == pytest.approx(now) for row in rows)


async def test_a_point_that_is_not_text_is_refused_before_the_write(store: Store) -> None:
    await store.add_check_object("host", "h")
    svc = await store.add_check_object("service", "h", "s")
    after = dataclasses.replace(svc, state=0, has_been_checked=True, last_check=time.time())
    result = CheckResultRecord(None, svc.id, time.time(), 0, "HARD", 1, "ok", "", "", "passive")
    with pytest.raises(InvalidInput, match="perfdata"):
        await store.record_check_result(after, result, [PerfPoint("bad \udcff", 1.0)])
    assert await store.check_results(svc.id) == []
