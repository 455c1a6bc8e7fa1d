"""Building in-process hubs for tests: a SQLite file, collections published by hand."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx

from fleetwatch.app import Hub, build_hub
from fleetwatch.config import load_config


def make_hub(data_dir: Path, **flags: Any) -> Hub:
    """A hub on a SQLite file in ``data_dir``; flags are ``(section, key)`` settings."""
    settings: dict[tuple[str, str], Any] = {("storage", "data_dir"): str(data_dir)}
    for name, value in flags.items():
        section = "collector" if name == "history_size" else "server"
        settings[(section, name)] = value
    return build_hub(load_config(env={}, flags=settings))


async def started(hub: Hub, rounds: int = 2) -> Hub:
    """Open the hub's store and publish ``rounds`` collections by hand (no timing races)."""
    await hub.store.open()
    for _ in range(rounds):
        hub.live.publish(hub.live.gather())
    return hub


def client_for(hub: Hub) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        transport=httpx.ASGITransport(app=hub.app), base_url="http://127.0.0.1"
    )
