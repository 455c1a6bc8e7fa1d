"""Acknowledging an event (threshold, STALE, pushed alert): the store (both backends) writes it
with an outbox row in one commit, the dispatcher stops the repeats and escalation of its
incident (the recovery is still told), and ``POST /api/v1/events.ack`` checks its input and
permission."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from hubs import add_user, client_for, make_hub, started
from notify_parts import Clock, dispatcher, threshold_event

from fleetwatch.engine.checks import CheckService
from fleetwatch.store import Store
from fleetwatch.store.notify import EventAck

pytestmark = pytest.mark.anyio


async def test_an_acknowledged_event_repeats_and_escalates_no_more(store: Store) -> None:
    clock = Clock()
    await store.add_channel("ops", "json://127.0.0.1:9/", "", origin="api")
    await store.add_channel("boss", "json://127.0.0.1:9/", "", origin="api")
    await store.add_rule("main", {"channels": ["ops"], "repeat": 5, "escalate_after": 10,
                                  "escalate_to": ["boss"]}, origin="api")  # fmt: skip
    system = await store.add_system("web1")
    job = dispatcher(store, clock)
    event_id = await store.save_event(threshold_event(system.id, clock.now))
    await job.run_once()
    clock.advance(301)
    await job.run_once()
    assert await phases(store) == ["problem", "repeat"]

    assert await store.acknowledge_event(EventAck(event_id, "ann", "on it", clock.now))
    assert not await store.acknowledge_event(EventAck(event_id, "bob", "me too", clock.now))
    assert (await store.event_acks([event_id]))[event_id].author == "ann"
    await job.run_once()
    [incident] = await store.open_incidents()
    assert incident.acknowledged
    clock.advance(3600)
    await job.run_once()
    assert await phases(store) == ["problem", "repeat"]  # no repeat, no escalation

    record = threshold_event(system.id, clock.now - 3901)
    await store.save_event(dataclasses.replace(record, id=event_id, end=clock.now))
    await job.run_once()
    assert await phases(store) == ["problem", "repeat", "recovery"]
    # An ended event, or an unknown one, is not acknowledged.
    assert not await store.acknowledge_event(EventAck(event_id + 100, "ann", "", clock.now))


async def phases(store: Store) -> list[str]:
    rows, _ = await store.list_deliveries(count=100, offset=0)
    return [d.phase for d in sorted(rows, key=lambda d: d.id)]


async def test_events_ack_over_the_api(tmp_path: Path) -> None:
    hub = await started(make_hub(tmp_path))
    try:
        system = await hub.store.add_system("web1")
        event_id = await hub.store.save_event(threshold_event(system.id, 100.0))
        checks = CheckService(hub.store)
        await checks.prepare()
        await hub.store.add_check_object("host", "web2")
        await hub.store.add_check_object("service", "web2", "disk")
        await checks.process_result("web2", "disk", 2, "CRITICAL: full")
        [check_event] = [e.id for e in await hub.store.list_events() if e.type.startswith("CHECK")]
        operator = await add_user(hub, "op", "op password", "status_update")
        viewer = await add_user(hub, "viewer", "viewer password", "readonly")
        async with client_for(hub) as client:
            path = "/api/v1/events.ack"
            refused = await client.post(path, json={"id": event_id}, headers=viewer)
            assert refused.status_code == 403
            for bad in ({}, {"id": "x"}, {"id": True}, {"id": 0}, {"id": 2**64}):
                answer = await client.post(path, json=bad, headers=operator)
                assert answer.status_code == 400, bad
                assert "id" in answer.json()["error"]
            long = {"id": event_id, "comment": "x" * 1001}
            assert (await client.post(path, json=long, headers=operator)).status_code == 400
            done = await client.post(path, json={"id": event_id, "comment": "on it"},
                                     headers=operator)  # fmt: skip
            assert done.json() == {"acknowledged": True, "success": True}
            again = await client.post(path, json={"id": event_id}, headers=operator)
            assert again.json() == {"acknowledged": False, "success": True}
            # A service's event is acknowledged through the service, not here.
            other = await client.post(path, json={"id": check_event}, headers=operator)
            assert other.status_code == 404
            assert "ACKNOWLEDGE_SVC_PROBLEM" in other.json()["error"]
        acks = await hub.store.event_acks([event_id])
        assert acks[event_id].author == "op"
        assert acks[event_id].comment == "on it"
    finally:
        await hub.store.close()
