"""One client's expensive reads run one (``query.per_client``) at a time; other clients' don't
wait for them; a request that cannot get a slot within its time limit is a 503."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest

from fleetwatch.api.query_slots import QuerySlots, SlotTimeout
from fleetwatch.app import build_hub
from fleetwatch.auth.authenticator import Principal
from fleetwatch.config import ConfigError, load_config

pytestmark = pytest.mark.anyio

ALICE = Principal("user", "alice")
BOB = Principal("user", "bob")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_a_client_waits_for_its_own_slot_and_no_other() -> None:
    slots = QuerySlots(1)
    order: list[str] = []
    release = asyncio.Event()

    async def read(principal: Principal, name: str) -> None:
        async with slots.hold(principal, wait=5):
            order.append(f"{name} in")
            if name == "alice-1":
                await release.wait()
            order.append(f"{name} out")

    first = asyncio.create_task(read(ALICE, "alice-1"))
    await asyncio.sleep(0)
    second = asyncio.create_task(read(ALICE, "alice-2"))
    other = asyncio.create_task(read(BOB, "bob"))
    await other  # bob is not held back by alice's slot
    assert order == ["alice-1 in", "bob in", "bob out"]
    release.set()
    await asyncio.gather(first, second)
    assert order[3:] == ["alice-1 out", "alice-2 in", "alice-2 out"]
    assert slots.clients() == 0  # idle clients are forgotten


async def test_no_slot_within_the_time_limit_is_a_timeout() -> None:
    slots = QuerySlots(1)
    async with slots.hold(ALICE, wait=1):
        with pytest.raises(SlotTimeout):
            async with slots.hold(ALICE, wait=0.05):
                pass
    assert slots.clients() == 0


def test_at_least_one_slot() -> None:
    with pytest.raises(ValueError, match="at least 1"):
        QuerySlots(0)


def test_a_zero_setting_stops_the_start_with_one_line(tmp_path: Path) -> None:
    config = load_config(
        env={"FLEETWATCH_QUERY_PER_CLIENT": "0"}, flags={("storage", "data_dir"): str(tmp_path)}
    )
    with pytest.raises(ConfigError, match=r"^query\.per_client must be at least 1$"):
        build_hub(config)
