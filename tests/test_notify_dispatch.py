"""The outbox and the dispatcher on a real store (both backends), on a clock the test moves:
min_duration, repeat, escalation, acknowledgements, downtimes, tags."""

from __future__ import annotations

import dataclasses
import time

import pytest
from notify_parts import Clock, GivenTags, dispatcher, threshold_event

from fleetwatch.api.external import alert_event
from fleetwatch.engine.checks import CheckService
from fleetwatch.engine.freshness import FreshnessScheduler
from fleetwatch.engine.notify.tags import StoredTags
from fleetwatch.engine.staleness import StalenessWatcher
from fleetwatch.store import Store
from fleetwatch.store.notify import DeliveryRecord

pytestmark = pytest.mark.anyio


async def deliveries(store: Store) -> list[DeliveryRecord]:
    rows, _ = await store.list_deliveries(count=1000, offset=0)
    return sorted(rows, key=lambda d: d.id)


def seen(rows: list[DeliveryRecord]) -> list[tuple[str, str, str]]:
    return [(d.channel_name, d.phase, d.title) for d in rows]


async def setup(store: Store, **rule: object) -> None:
    await store.add_channel("ops", "json://127.0.0.1:9/", "", origin="api")
    await store.add_channel("boss", "json://127.0.0.1:9/", "", origin="api")
    await store.add_rule("main", {"channels": ["ops"], **rule}, origin="api")


async def test_the_outbox_is_written_with_the_event(store: Store) -> None:
    system = await store.add_system("web1")
    event_id = await store.save_event(threshold_event(system.id, 100.0))
    record = dataclasses.replace(threshold_event(system.id, 100.0), id=event_id, count=2)
    await store.save_event(record)  # same state, still open: nothing to tell
    await store.save_event(dataclasses.replace(record, state="CRITICAL"))
    await store.save_event(dataclasses.replace(record, state="CRITICAL", end=160.0))
    rows = await store.pending_outbox()
    assert [(r.event_id, r.transition, r.state, r.previous_state) for r in rows] == [
        (event_id, "open", "WARNING", None),
        (event_id, "change", "CRITICAL", "WARNING"),
        (event_id, "end", "CRITICAL", "CRITICAL"),
    ]
    assert rows[0].description == "CPU total"


async def test_threshold_problem_escalation_repeat_and_recovery(store: Store) -> None:
    clock = Clock()
    await setup(store, min_duration=60, repeat=5, escalate_after=10, escalate_to=["boss"])
    system = await store.add_system("web1")
    job = dispatcher(store, clock)
    event_id = await store.save_event(threshold_event(system.id, clock.now))
    await job.run_once()
    assert await deliveries(store) == []  # min_duration not reached
    clock.advance(61)
    await job.run_once()
    assert seen(await deliveries(store)) == [("ops", "problem", "WARNING web1: CPU total at 91.5")]
    record = dataclasses.replace(threshold_event(system.id, clock.now - 61), id=event_id)
    await store.save_event(dataclasses.replace(record, state="CRITICAL"))
    await job.run_once()
    assert seen(await deliveries(store))[-1] == (
        "ops", "problem", "CRITICAL web1: CPU total at 91.5"
    )  # fmt: skip
    clock.advance(300)
    await job.run_once()
    await job.run_once()  # a second cycle at the same moment sends nothing more
    assert [d.phase for d in await deliveries(store)] == ["problem", "problem", "repeat"]
    clock.advance(300)
    await job.run_once()
    phases = [(d.channel_name, d.phase) for d in await deliveries(store)]
    assert phases[3:] == [("ops", "repeat"), ("boss", "escalation")]
    clock.advance(10)
    await store.save_event(dataclasses.replace(record, state="CRITICAL", end=clock.now))
    await job.run_once()
    tail = seen(await deliveries(store))[5:]
    assert sorted(tail) == [
        ("boss", "recovery", "RECOVERED web1: CPU total at 91.5"),
        ("ops", "recovery", "RECOVERED web1: CPU total at 91.5"),
    ]
    assert await store.pending_outbox() == []
    assert await store.open_incidents() == []


async def test_a_spike_shorter_than_min_duration_sends_nothing(store: Store) -> None:
    clock = Clock()
    await setup(store, min_duration="2m")
    system = await store.add_system("web1")
    job = dispatcher(store, clock)
    event_id = await store.save_event(threshold_event(system.id, clock.now))
    clock.advance(30)
    await job.run_once()
    record = dataclasses.replace(threshold_event(system.id, clock.now - 30), id=event_id)
    await store.save_event(dataclasses.replace(record, end=clock.now))
    clock.advance(600)
    await job.run_once()
    assert await deliveries(store) == []


async def test_dispatching_twice_sends_once(store: Store) -> None:
    clock = Clock()
    await setup(store)
    system = await store.add_system("web1")
    await store.save_event(threshold_event(system.id, clock.now))
    first, second = dispatcher(store, clock), dispatcher(store, clock)
    await first.run_once()
    # As if the first had crashed before marking the row done: the second does it again.
    outbox_id = (await deliveries(store))[0].payload["event_id"]
    assert outbox_id
    await second.run_once()
    assert len(await deliveries(store)) == 1


async def check_problem(store: Store, clock: Clock) -> CheckService:
    checks = CheckService(store, clock=clock)
    await checks.prepare()
    await store.add_check_object("host", "web1")
    await store.add_check_object("service", "web1", "Nightly backup")
    await checks.process_result("web1", "Nightly backup", 2, "CRITICAL: the disk is full")
    return checks


async def test_an_acknowledgement_stops_repeats_and_escalation(store: Store) -> None:
    clock = Clock()
    await setup(store, repeat=5, escalate_after=10, escalate_to=["boss"],
                kinds=["check", "acknowledgement"])  # fmt: skip
    checks = await check_problem(store, clock)
    job = dispatcher(store, clock)
    await job.run_once()
    assert seen(await deliveries(store)) == [
        ("ops", "problem", "CRITICAL web1 / Nightly backup: the disk is full")
    ]
    clock.advance(301)
    await job.run_once()
    assert [d.phase for d in await deliveries(store)] == ["problem", "repeat"]
    found = await store.get_check_object("web1", "Nightly backup")
    assert found is not None
    await checks.acknowledge(found, "ann", "on it", sticky=True, notify=True, persistent=False)
    await job.run_once()
    clock.advance(3600)
    await job.run_once()
    rows = await deliveries(store)
    assert [d.phase for d in rows] == ["problem", "repeat", "info"]
    assert rows[-1].title == "ACKNOWLEDGEMENT web1 / Nightly backup: acknowledged by ann: on it"
    await checks.process_result("web1", "Nightly backup", 0, "OK: done")
    await job.run_once()
    assert seen(await deliveries(store))[-1] == (
        "ops", "recovery", "RECOVERED web1 / Nightly backup: done"
    )  # fmt: skip


async def test_a_downtime_holds_messages_back(store: Store) -> None:
    clock = Clock()
    await setup(store, kinds=["check", "downtime"])
    checks = CheckService(store, clock=clock)
    await checks.prepare()
    host = await store.add_check_object("host", "web1")
    await store.add_check_object("service", "web1", "Backup")
    downtime = await checks.schedule_downtime(host, "ann", "maintenance", start_time=clock.now,
                                              end_time=clock.now + 3600, fixed=True,
                                              duration=0)  # fmt: skip
    job = dispatcher(store, clock)
    await checks.process_result("web1", "Backup", 2, "CRITICAL: down")
    await job.run_once()
    assert [d.title for d in await deliveries(store)] == [
        "DOWNTIME web1: downtime started: maintenance"
    ]
    # Ended during the downtime: never told, not even afterwards.
    clock.advance(60)
    await checks.process_result("web1", "Backup", 0, "OK: fine")
    await job.run_once()
    # Began during the downtime and still wrong when it ends: told then.
    await checks.process_result("web1", "Backup", 2, "CRITICAL: down again")
    await job.run_once()
    assert len(await deliveries(store)) == 1
    clock.advance(3600)
    current = await store.get_downtime(downtime.id)
    assert current is not None
    await checks.advance_downtime(current, clock.now)
    await job.run_once()
    assert [d.title for d in await deliveries(store)][1:] == [
        "DOWNTIME web1: downtime ended: maintenance",
        "CRITICAL web1 / Backup: down again",
    ]


async def test_rules_match_names_and_tags(store: Store) -> None:
    clock = Clock()
    await store.add_channel("ops", "json://127.0.0.1:9/", "", origin="api")
    await store.add_rule("prod", {"channels": ["ops"], "tags": ["prod"]}, origin="api")
    await store.add_rule("db", {"channels": ["ops"], "systems": ["db*"],
                                "severities": ["CRITICAL"]}, origin="api")  # fmt: skip
    tags = GivenTags({"web1": frozenset({"prod", "eu"})})
    job = dispatcher(store, clock, tags)
    for name in ("web1", "web2", "db1"):
        system = await store.add_system(name)
        await store.save_event(threshold_event(system.id, clock.now))
        await store.save_event(threshold_event(system.id, clock.now, state="CRITICAL"))
    await job.run_once()
    got = sorted((d.rule_name, d.title.split(":")[0]) for d in await deliveries(store))
    assert got == [("db", "CRITICAL db1"), ("prod", "CRITICAL web1"), ("prod", "WARNING web1")]


async def test_rules_match_the_tags_stored_on_systems_hosts_and_services(store: Store) -> None:
    clock = Clock()
    await store.add_channel("ops", "json://127.0.0.1:9/", "", origin="api")
    await store.add_rule("prod", {"channels": ["ops"], "tags": ["prod"]}, origin="api")
    job = dispatcher(store, clock, StoredTags(store))
    for name in ("web1", "web2"):
        system = await store.add_system(name)
        await store.save_event(threshold_event(system.id, clock.now, state="CRITICAL"))
    await store.tag_system("web1", add=["prod"])
    # A service is covered by its host's tags; a host without the tag is not.
    await store.add_check_object("host", "nas1")
    await store.add_check_object("service", "nas1", "Backup")
    await store.add_check_object("host", "lab1")
    await store.add_check_object("service", "lab1", "Backup")
    await store.tag_check_object("nas1", add=["prod"])
    checks = CheckService(store, clock=clock)
    await checks.prepare()
    for host in ("nas1", "lab1"):
        await checks.process_result(host, "Backup", 2, "CRITICAL: no space left")
    await job.run_once()
    got = sorted(d.title.split(":")[0] for d in await deliveries(store))
    assert got == ["CRITICAL nas1 / Backup", "CRITICAL web1"]


async def test_old_notification_rows_are_pruned(store: Store) -> None:
    clock = Clock()
    await setup(store)
    system = await store.add_system("web1")
    event_id = await store.save_event(threshold_event(system.id, clock.now))
    record = dataclasses.replace(threshold_event(system.id, clock.now), id=event_id)
    await store.save_event(dataclasses.replace(record, end=clock.now + 60))
    clock.advance(60)
    await dispatcher(store, clock).run_once()
    assert len(await deliveries(store)) == 2
    assert await store.prune_notifications(0.0) == 0  # nothing is that old
    # Deliveries not finished are kept whatever their age.
    assert await store.prune_notifications(time.time() + 10, batch=1) == 3  # 2 outbox, 1 incident
    assert len(await deliveries(store)) == 2


async def test_pushed_alerts_and_stale_systems_are_told(store: Store) -> None:
    clock = Clock()
    await setup(store, kinds=["alert", "stale"])
    system = await store.add_system("nas1")
    job = dispatcher(store, clock)
    alert = {"source": "zfs", "type": "warning", "time_t": clock.now, "text": "pool degraded"}
    await store.save_event(alert_event(system.id, "pool", alert, clock.now, {}))
    known = {e.type: e for e in await store.list_events(system_id=system.id)}
    worse = {**alert, "type": "critical", "text": "pool faulted"}
    await store.save_event(alert_event(system.id, "pool", worse, clock.now, known))
    known = {e.type: e for e in await store.list_events(system_id=system.id)}
    fine = {**alert, "type": "information", "text": "pool online"}
    await store.save_event(alert_event(system.id, "pool", fine, clock.now, known))
    watcher = StalenessWatcher(store, minimum=120, clock=clock)
    await watcher.seen(system.id, clock.now)
    clock.advance(121)
    assert await watcher.check() == [system.id]
    await watcher.seen(system.id, clock.now)
    await job.run_once()
    assert [d.title for d in await deliveries(store)] == [
        "WARNING nas1: pool degraded",
        "CRITICAL nas1: pool faulted",
        "RECOVERED nas1: pool online",
        "CRITICAL nas1: No statistics for 121 s (window 120 s)",
        "RECOVERED nas1: No statistics for 121 s (window 120 s)",
    ]


async def test_freshness_turns_silence_into_a_critical_message(store: Store) -> None:
    await setup(store, kinds=["check"])
    checks = CheckService(store)
    await checks.prepare()
    await store.add_check_object("host", "web1")
    made = await store.add_check_object("service", "web1", "Nightly backup",
                                        freshness_threshold=3600)  # fmt: skip
    clock = Clock(made.created_at + 3605)
    checks.clock = clock
    await FreshnessScheduler(checks, clock=clock).run_due()
    await dispatcher(store, clock).run_once()
    [delivery] = await deliveries(store)
    assert delivery.title == (
        "CRITICAL web1 / Nightly backup: no result for 3605 s (threshold 3600 s)"
    )
    assert delivery.payload["url"] == ("https://hub.example/checks?q=web1%3BNightly%20backup")


async def test_a_problem_that_ends_and_reopens_in_one_cycle_is_followed(store: Store) -> None:
    clock = Clock()
    await setup(store, kinds=["check"])
    checks = CheckService(store, clock=clock)
    await checks.prepare()
    await store.add_check_object("host", "web1")
    await store.add_check_object("service", "web1", "Backup")
    for code in (2, 0, 2):  # dispatched in one cycle: their writes share a group commit
        clock.advance(1)
        await checks.process_result("web1", "Backup", code, f"state {code}")
    job = dispatcher(store, clock)
    await job.run_once()
    assert len(await store.open_incidents()) == 1
    clock.advance(1)
    await checks.process_result("web1", "Backup", 0, "fine again")
    await job.run_once()
    assert [d.phase for d in await deliveries(store)] == [
        "problem", "recovery", "problem", "recovery"
    ]  # fmt: skip
    assert await store.open_incidents() == []
