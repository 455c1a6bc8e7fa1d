"""Failed credentials are limited per credential and address (issue #17, item 6), and the two
storage 503s say which they are."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from hubs import CHEAP_HASHING, add_user, basic, make_hub, started
from test_ingest_submit_stats import SCRIPT_DATA

from fleetwatch.api.guard import STORAGE_BUSY, STORAGE_DOWN, from_store_error
from fleetwatch.app import Hub, build_hub
from fleetwatch.auth.admin import Actor
from fleetwatch.auth.ratelimit import ADDRESS_FACTOR
from fleetwatch.config import load_config
from fleetwatch.store import StoreOverloaded, StoreUnavailable

pytestmark = pytest.mark.anyio
ADMIN = Actor("test", "127.0.0.1")
HOOK = "/api/external/submit_stats"
MAX_FAILURES = 3


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[Hub]:
    """Bound to every address (nothing anonymous), three failures per credential and address."""
    the_hub = await started(make_hub(tmp_path, bind="0.0.0.0", auth_max_failures=MAX_FAILURES))
    yield the_hub
    await the_hub.stop()


def from_address(hub: Hub, address: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=hub.app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1")


async def test_one_machine_with_a_bad_token_does_not_stop_others_behind_its_nat(hub: Hub) -> None:
    _, good = await hub.admin.add_system(ADMIN, "nas1")
    async with from_address(hub, "192.0.2.7") as nat:
        for _ in range(10):
            bad = await nat.put(HOOK, content=SCRIPT_DATA, auth=("", "fws_not-a-token"))
            assert bad.status_code in (401, 429)
        assert bad.status_code == 429  # the failing credential itself is held back
        ok = await nat.put(HOOK, content=SCRIPT_DATA, auth=("", good))  # uncached, same address
        assert ok.status_code == 200, ok.text


async def test_guessing_a_password_somewhere_does_not_lock_its_owner_out_elsewhere(
    hub: Hub,
) -> None:
    owner = await add_user(hub, "gina", "ginas password", "readonly")
    async with from_address(hub, "198.51.100.9") as attacker:
        for _ in range(MAX_FAILURES):
            await attacker.get("/api/4/cpu", headers=basic("gina", "guess"))
        assert (await attacker.get("/api/4/cpu", headers=owner)).status_code == 429
    async with from_address(hub, "192.0.2.7") as office:
        assert (await office.get("/api/4/cpu", headers=owner)).status_code == 200
        form = {"username": "gina", "password": "ginas password"}
        login = await office.post("/api/v1/login", json=form)
        assert login.status_code == 200


async def test_an_address_spraying_credentials_keeps_its_known_ones_and_every_valid_token(
    hub: Hub,
) -> None:
    known = await add_user(hub, "known", "known password", "readonly")
    fresh = await add_user(hub, "fresh", "fresh password", "readonly")
    _, token = await hub.admin.add_system(ADMIN, "nas1")
    async with from_address(hub, "203.0.113.5") as sprayer:
        assert (await sprayer.get("/api/4/cpu", headers=known)).status_code == 200
        hub.auth.forget()  # uncached again: the next use is checked, not remembered
        for n in range(MAX_FAILURES * ADDRESS_FACTOR):
            got = await sprayer.get("/api/4/cpu", headers=basic(f"user{n}", "guess"))
            assert got.status_code == 401
        assert (
            await sprayer.get("/api/4/cpu", headers=basic("user-x", "guess"))
        ).status_code == 429
        # A password never used from here waits (argon2 is the costly check)...
        assert (await sprayer.get("/api/4/cpu", headers=fresh)).status_code == 429
        # ...one that worked from here before, and any valid token, do not.
        assert (await sprayer.get("/api/4/cpu", headers=known)).status_code == 200
        ok = await sprayer.put(HOOK, content=SCRIPT_DATA, auth=("", token))
        assert ok.status_code == 200


def test_the_two_storage_503s_say_which_they_are() -> None:
    busy = from_store_error(StoreOverloaded("write queue full (10 pending writes)"))
    down = from_store_error(StoreUnavailable("postgresql://... is unavailable: refused"))
    assert (busy.status, busy.message) == (503, STORAGE_BUSY)
    assert (down.status, down.message) == (503, STORAGE_DOWN)
    assert busy.message != down.message


async def test_a_full_write_queue_and_a_closed_database_over_http(tmp_path: Path) -> None:
    config = load_config(env={}, flags={("storage", "data_dir"): str(tmp_path),
                                        ("storage", "queue_size"): 1})  # fmt: skip
    hub = build_hub(config)
    hub.auth.hashing = hub.admin.hashing = CHEAP_HASHING
    await started(hub, rounds=1)
    _, token = await hub.admin.add_system(ADMIN, "nas1")
    async with from_address(hub, "127.0.0.1") as client:
        answers = await asyncio.gather(
            *(client.put(HOOK, content=SCRIPT_DATA, auth=("", token)) for _ in range(20))
        )
        refused = [a for a in answers if a.status_code == 503]
        assert refused, [a.status_code for a in answers]
        assert refused[0].json()["error"] == STORAGE_BUSY
        assert int(refused[0].headers["retry-after"]) >= 1
        await hub.store.close()
        down = await client.put(HOOK, content=SCRIPT_DATA, auth=("", token))  # cached token
        assert down.status_code == 503
        assert down.json()["error"] == STORAGE_DOWN
        assert int(down.headers["retry-after"]) >= 1
