"""Issue 17, item 3: a failed write never leaves its transaction open, on SQLite and PostgreSQL.

``max_check_attempts`` of ``10**30`` was a 500, and every later write failed ("cannot start a
transaction within a transaction") until the hub restarted. Now the API refuses the value with
a 400 naming the field, and the store rolls back whatever made a write fail.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from hubs import CHEAP_HASHING, add_user, client_for

from fleetwatch.app import Hub, build_hub
from fleetwatch.config import load_config
from fleetwatch.store import EventRecord, InvalidInput, Store
from fleetwatch.store.checks import MAX_CHECK_ATTEMPTS

pytestmark = pytest.mark.anyio


@pytest.fixture
async def hub(store_url: str, tmp_path: Path) -> AsyncIterator[Hub]:
    flags = {("storage", "data_dir"): str(tmp_path), ("storage", "database"): store_url}
    the_hub = build_hub(load_config(env={}, flags=flags), collectors=[])
    the_hub.auth.hashing = the_hub.admin.hashing = CHEAP_HASHING
    await the_hub.prepare()
    yield the_hub
    await the_hub.store.close()


@pytest.fixture
async def client(hub: Hub) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(hub) as the_client:
        the_client.headers.update(await add_user(hub, "admin", "pw", "admin"))
        yield the_client


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("max_check_attempts", 10**30),
        ("max_check_attempts", "1000000000000000000000000000000"),
        ("max_check_attempts", MAX_CHECK_ATTEMPTS + 1),
        ("freshness_threshold", 1e300),
    ],
)
async def test_an_out_of_range_setting_is_a_400_and_the_next_write_succeeds(
    client: httpx.AsyncClient, field: str, value: object
) -> None:
    bad = {"host_name": "web", "service_description": "disk", field: value}
    response = await client.post("/api/config/service", json=bad)
    assert response.status_code == 400, response.text
    assert field in response.json()["full_error"]
    good = {"host_name": "web", "service_description": "disk", field: 3}
    after = await client.post("/api/config/service", json=good)
    assert after.status_code == 201, after.text
    assert after.json()[field] == 3


def _event(system_id: int, count: int) -> EventRecord:
    now = time.time()
    return EventRecord(None, system_id, now, -1, "WARNING", "CPU", 1, 1, 1, 1, count)


async def test_a_write_the_database_refuses_is_rolled_back(store: Store) -> None:
    # Past the API: a value no 64-bit column holds fails its write alone, and the writer's
    # transaction is over, so the next write (and the one after) commits.
    system = await store.add_system("box")
    with pytest.raises(InvalidInput):
        await store.save_event(_event(system.id, 10**30))
    assert await store.save_event(_event(system.id, 1)) > 0
    assert (await store.add_system("another")).name == "another"
    assert [e.count for e in await store.list_events(system_id=system.id)] == [1]
