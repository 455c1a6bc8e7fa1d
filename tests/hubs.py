"""Building in-process hubs for tests: a SQLite file, collections published by hand."""

from __future__ import annotations

import base64
from pathlib import Path
from typing import Any

import httpx
from argon2 import PasswordHasher

from fleetwatch.app import Hub, build_hub
from fleetwatch.auth.secrets import PasswordHashing
from fleetwatch.config import load_config

# Real argon2id with the smallest parameters: verification reads them from the stored hash,
# so test users cost microseconds instead of the production ~0.1 s.
CHEAP_HASHING = PasswordHashing(PasswordHasher(time_cost=1, memory_cost=8, parallelism=1))


def make_hub(data_dir: Path, **flags: Any) -> Hub:
    """A hub on a SQLite file in ``data_dir``; flags are settings by key (``auth_*`` for
    ``[auth]``), hashing passwords cheaply."""
    settings: dict[tuple[str, str], Any] = {("storage", "data_dir"): str(data_dir)}
    for name, value in flags.items():
        if name.startswith("auth_"):
            settings[("auth", name.removeprefix("auth_"))] = value
        else:
            section = "collector" if name == "history_size" else "server"
            settings[(section, name)] = value
    hub = build_hub(load_config(env={}, flags=settings))
    hub.auth.hashing = hub.admin.hashing = CHEAP_HASHING
    return hub


async def started(hub: Hub, rounds: int = 2) -> Hub:
    """Open the hub's store and publish ``rounds`` collections by hand (no timing races)."""
    await hub.prepare()
    for _ in range(rounds):
        hub.live.publish(hub.live.gather())
    return hub


def client_for(hub: Hub) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=hub.app), base_url="http://127.0.0.1"
    )


async def add_user(hub: Hub, name: str, password: str, *groups: str) -> dict[str, str]:
    """Add a user straight to the hub's store; return their Basic ``Authorization`` header."""
    await hub.store.add_user(name, CHEAP_HASHING.hash(password), list(groups))
    return basic(name, password)


def basic(user: str, password: str) -> dict[str, str]:
    value = base64.b64encode(f"{user}:{password}".encode()).decode()
    return {"authorization": f"Basic {value}"}
