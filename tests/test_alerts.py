"""The alert engine driven by synthetic series: an event's whole life, bounds, persistence."""

from __future__ import annotations

from typing import Any

import pytest

from fleetwatch.collect.registry import PLUGIN_NAMES
from fleetwatch.engine.alerts import NO_ALERT, AlertEngine
from fleetwatch.engine.service import AlertService
from fleetwatch.model.limits import Limits, apply_overrides, default_limits
from fleetwatch.store import Store


def limits(**overrides: dict[str, Any]) -> dict[str, Limits]:
    table = default_limits(list(PLUGIN_NAMES), 1200)
    for section, values in overrides.items():
        apply_overrides(table, section, values)
    return table


def procs(*names_cpu: tuple[str, float]) -> list[dict[str, Any]]:
    return [{"name": n, "cpu_percent": c, "memory_percent": c / 2} for n, c in names_cpu]


def cpu(total: float, user: float = 1.0, **extra: Any) -> dict[str, Any]:
    return {"cpu": {"total": total, "user": user, "system": 1.0, "iowait": 0.0, "steal": 0.0},
            **extra}  # fmt: skip


def test_a_cpu_that_climbs_past_90_for_10_s_then_falls_back() -> None:
    engine = AlertEngine(min_duration=6.0)
    lim = limits()
    busy = procs(("make", 90.0), ("cc1", 60.0), ("ld", 30.0), ("bash", 1.0))
    series = [(0, 10.0), (2, 20.0), (4, 80.0), (6, 92.0), (8, 95.0), (10, 93.0), (12, 91.0),
              (14, 90.0), (16, 60.0), (18, 5.0)]  # fmt: skip
    saved: list[list[str]] = []
    for t, total in series:
        changed = engine.evaluate(cpu(total, processlist=busy), lim, float(t))
        saved.append([e.type for e in changed])
    [event] = engine.as_glances()
    assert event["type"] == "CPU_TOTAL"
    assert event["begin"] == 4.0  # 80 % reached WARNING (75 %)
    assert event["end"] == 16.0  # 60 % is below WARNING: the event ends
    assert event["state"] == "CRITICAL"  # escalated at 92 %, never back
    assert event["max"] == 95.0
    assert event["min"] == 80.0
    assert event["count"] == 6
    assert event["sum"] == 80.0 + 92.0 + 95.0 + 93.0 + 91.0 + 90.0
    assert event["avg"] == pytest.approx(event["sum"] / 6, abs=0.01)
    assert event["top"] == ["make", "cc1", "ld"]
    assert event["sort"] == "cpu_percent"
    assert event["desc"]
    assert event["global_msg"] == NO_ALERT
    # Saved only once it outlived min_duration (6 s after 4 s), then on each change and at the end.
    assert saved[:4] == [[], [], [], []]
    assert saved[5:8] == [["CPU_TOTAL"]] * 3
    assert saved[8] == ["CPU_TOTAL"]


def test_ongoing_event_has_end_minus_one_and_a_global_message() -> None:
    engine = AlertEngine()
    engine.evaluate(cpu(99.0), limits(), 0.0)
    [event] = engine.as_glances()
    assert event["end"] == -1
    assert event["state"] == "CRITICAL"
    assert event["global_msg"].startswith("CRITICAL: CPU total usage")


def test_state_never_goes_back_from_critical() -> None:
    engine = AlertEngine()
    for t, total in enumerate([80.0, 90.0, 80.0, 78.0]):
        engine.evaluate(cpu(total), limits(), float(t * 2))
    assert engine.as_glances()[0]["state"] == "CRITICAL"


def test_a_short_spike_is_dropped() -> None:
    engine = AlertEngine(min_duration=6.0)
    for t, total in [(0, 10.0), (2, 99.0), (4, 10.0)]:
        assert engine.evaluate(cpu(total), limits(), float(t)) == []
    assert engine.as_glances() == []


def test_the_list_keeps_the_newest_events_first() -> None:
    engine = AlertEngine(min_duration=0.0, max_events=3)
    for n in range(5):
        engine.evaluate(cpu(99.0), limits(), n * 10.0)
        engine.evaluate(cpu(1.0), limits(), n * 10.0 + 5)
    begins = [e["begin"] for e in engine.as_glances()]
    assert begins == [40.0, 30.0, 20.0]


def test_clear_warning_and_clear_all() -> None:
    engine = AlertEngine(min_duration=0.0)
    lim = limits()
    engine.evaluate(cpu(80.0), lim, 0.0)  # a warning
    engine.evaluate(cpu(1.0), lim, 5.0)
    engine.evaluate(cpu(99.0), lim, 10.0)  # a critical
    engine.evaluate(cpu(1.0), lim, 15.0)
    engine.evaluate({"mem": {"percent": 95.0}}, lim, 20.0)  # ongoing
    assert len(engine.clear(warning_only=True)) == 1
    assert [e["state"] for e in engine.as_glances()] == ["CRITICAL", "CRITICAL"]
    assert len(engine.clear(warning_only=False)) == 1
    [left] = engine.as_glances()
    assert left["type"] == "MEM"
    assert left["end"] == -1


def test_memory_load_and_file_system_events() -> None:
    engine = AlertEngine(min_duration=0.0)
    stats = {
        "mem": {"percent": 91.0},
        "memswap": {"percent": 10.0},
        "load": {"min1": 1.0, "min5": 1.0, "min15": 12.0, "cpucore": 2},  # 6 per core: critical
        "fs": [
            {"mnt_point": "/", "size": 100, "used": 95},
            {"mnt_point": "/srv", "size": 100, "used": 10},
        ],
        "processlist": procs(("postgres", 3.0), ("java", 2.0)),
    }
    engine.evaluate(stats, limits(), 0.0)
    events = {e["type"]: e for e in engine.as_glances()}
    assert set(events) == {"MEM", "LOAD", "FS_/"}
    assert events["MEM"]["state"] == "CRITICAL"
    assert events["MEM"]["sort"] == "memory_percent"
    assert events["LOAD"]["state"] == "CRITICAL"
    assert events["FS_/"]["max"] == 95.0


def test_log_switches_choose_what_is_watched() -> None:
    engine = AlertEngine(min_duration=0.0)
    engine.evaluate(cpu(10.0, user=95.0), limits(), 0.0)
    assert engine.as_glances() == []  # cpu_user_log is False by default, as in Glances
    engine.evaluate(cpu(10.0, user=95.0), limits(cpu={"user_log": True}), 2.0)
    assert [e["type"] for e in engine.as_glances()] == ["CPU_USER"]
    quiet = AlertEngine(min_duration=0.0)
    quiet.evaluate(cpu(99.0), limits(cpu={"total_log": False}), 0.0)
    assert quiet.as_glances() == []


def test_thresholds_come_from_the_limits() -> None:
    engine = AlertEngine(min_duration=0.0)
    engine.evaluate(cpu(80.0), limits(cpu={"total_warning": 90.0, "total_critical": 95.0}), 0.0)
    assert engine.as_glances() == []


def test_an_unmounted_file_system_ends_its_event() -> None:
    engine = AlertEngine(min_duration=0.0)
    engine.evaluate({"fs": [{"mnt_point": "/mnt/x", "size": 10, "used": 10}]}, limits(), 0.0)
    engine.evaluate({"fs": []}, limits(), 4.0)
    assert engine.as_glances()[0]["end"] == 4.0


@pytest.mark.anyio
async def test_events_survive_a_restart(store: Store) -> None:
    system = await store.add_system("hub", source="local")
    service = AlertService(AlertEngine(min_duration=2.0), store, system.id)
    lim = limits()
    for t in range(0, 10, 2):
        service.evaluate(cpu(96.0, processlist=procs(("stress", 99.0))), lim, 1000.0 + t)
    await service.flush()
    [stored] = await store.list_events(system_id=system.id)
    assert stored.end == -1
    assert stored.state == "CRITICAL"
    assert stored.count == 5
    assert stored.top == ["stress"]

    # A new process: the event goes on from the stored row, then ends.
    restarted = AlertService(AlertEngine(min_duration=2.0), store, system.id)
    await restarted.restore()
    assert restarted.engine.as_glances()[0]["count"] == 5
    restarted.evaluate(cpu(97.0), lim, 1010.0)
    restarted.evaluate(cpu(3.0), lim, 1012.0)
    await restarted.flush()
    [final] = await store.list_events(system_id=system.id)
    assert final.id == stored.id
    assert final.end == 1012.0
    assert final.count == 6
    assert final.value_max == 97.0

    assert await restarted.clear(warning_only=True) == 0  # a critical is not a warning
    assert await restarted.clear(warning_only=False) == 1
    assert await store.list_events(system_id=system.id) == []
