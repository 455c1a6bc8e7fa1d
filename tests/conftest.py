"""Shared fixtures: an in-process hub (httpx over ASGI) and a real ``fleetwatch serve``."""

from __future__ import annotations

from collections.abc import AsyncIterator

import httpx
import pytest
from hubs import client_for, make_hub, started

from fleetwatch.app import Hub

pytest_plugins = ["fixtures_store"]


@pytest.fixture(scope="session")
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(scope="module")
async def hub(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[Hub]:
    the_hub = await started(make_hub(tmp_path_factory.mktemp("hub")))
    yield the_hub
    await the_hub.store.close()


@pytest.fixture
async def client(hub: Hub) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(hub) as c:
        yield c
