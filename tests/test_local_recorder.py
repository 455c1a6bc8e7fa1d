"""The hub's own machine is a system too: its stats stored as snapshots (source local)."""

from __future__ import annotations

import asyncio
import socket
import time
from pathlib import Path

import pytest
from hubs import started

from fleetwatch.app import build_hub
from fleetwatch.config import load_config

pytestmark = pytest.mark.anyio


async def test_the_hub_stores_its_own_snapshots(tmp_path: Path) -> None:
    config = load_config(env={}, flags={("storage", "data_dir"): str(tmp_path)})
    hub = await started(build_hub(config), rounds=1)
    try:
        assert hub.recorder is not None
        assert config.get("collector", "store_interval") == 60.0
        assert await hub.recorder.record() is not None
        system = await hub.store.get_system(socket.gethostname())
        assert system is not None
        assert system.source == "local"
        snap = await hub.store.latest_snapshot(system.id)
        assert snap is not None
        assert snap.source == "local"
        assert snap.normalized["mem"]["total"] > 0
        assert "processlist" not in snap.normalized
        assert system.id == hub.recorder.system_id
    finally:
        await hub.stop()


async def test_the_first_snapshot_is_stored_soon_after_start(tmp_path: Path) -> None:
    config = load_config(env={}, flags={("storage", "data_dir"): str(tmp_path)})
    hub = build_hub(config)
    await hub.start()
    try:
        assert hub.recorder is not None
        assert hub.recorder.interval == 60.0
        system_id = hub.recorder.system_id
        assert system_id is not None
        deadline = time.monotonic() + 10
        while await hub.store.latest_snapshot(system_id) is None:
            assert time.monotonic() < deadline, "no snapshot of the hub's machine 10 s after start"
            await asyncio.sleep(0.1)
    finally:
        await hub.stop()


async def test_a_zero_interval_stores_nothing(tmp_path: Path) -> None:
    config = load_config(env={"FLEETWATCH_COLLECTOR_STORE_INTERVAL": "0"},
                         flags={("storage", "data_dir"): str(tmp_path)})  # fmt: skip
    hub = build_hub(config)
    await hub.start()
    try:
        assert all(task.get_name() != "recorder" for task in hub._tasks)
    finally:
        await hub.stop()
