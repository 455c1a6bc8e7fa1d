"""/api/4/alert and the clear routes on a real hub, events kept across a restart."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from hubs import client_for, started

from fleetwatch.app import Hub, build_hub
from fleetwatch.config import load_config

pytestmark = pytest.mark.anyio


def quiet_hub(data_dir: Path, **env: str) -> Hub:
    """A hub whose only watched values are memory and file systems (this machine is busy)."""
    env = {"FLEETWATCH_CPU_TOTAL_LOG": "false", "FLEETWATCH_LOAD_LOG": "false", **env}
    return build_hub(load_config(env=env, flags={("storage", "data_dir"): str(data_dir)}))


async def test_alert_life_through_the_api_and_a_restart(tmp_path: Path) -> None:
    hub = await started(quiet_hub(tmp_path), rounds=1)
    t0 = time.time()
    try:
        async with client_for(hub) as c:
            assert (await c.get("/api/4/alert")).json() == []
            hub.live.publish({"now": t0, "fresh": {"mem": {"percent": 95.0}}})
            hub.live.publish({"now": t0 + 10, "fresh": {"mem": {"percent": 97.0}}})
            [ongoing] = (await c.get("/api/4/alert")).json()
            assert ongoing["type"] == "MEM"
            assert ongoing["state"] == "CRITICAL"
            assert ongoing["end"] == -1
            assert ongoing["max"] == 97.0
            assert ongoing["global_msg"].startswith("CRITICAL")
            assert (await c.post("/api/4/events/clear/all")).json() == {"cleared": 0}  # ongoing

            hub.live.publish({"now": t0 + 12, "fresh": {"mem": {"percent": 20.0}}})
            [ended] = (await c.get("/api/4/alert")).json()
            assert ended["end"] == t0 + 12
            assert ended["count"] == 2
            assert (await c.post("/api/4/events/clear/warning")).json() == {"cleared": 0}
    finally:
        await hub.stop()

    again = await started(quiet_hub(tmp_path), rounds=1)
    try:
        async with client_for(again) as c:
            [kept] = (await c.get("/api/4/alert")).json()
            assert kept["begin"] == t0
            assert kept["end"] == t0 + 12
            assert (await c.post("/api/4/events/clear/all")).json() == {"cleared": 1}
            assert (await c.get("/api/4/alert")).json() == []
        assert await again.store.list_events() == []
    finally:
        await again.stop()


async def test_thresholds_from_the_config_raise_events(tmp_path: Path) -> None:
    config = quiet_hub(tmp_path, FLEETWATCH_MEM_WARNING="0.01", FLEETWATCH_MEM_CRITICAL="0.02")
    hub = await started(config, rounds=2)
    try:
        async with client_for(hub) as c:
            events = {e["type"]: e for e in (await c.get("/api/4/alert")).json()}
            assert events["MEM"]["state"] == "CRITICAL"
            assert events["MEM"]["top"]  # the busiest processes by memory, from this machine
            assert events["MEM"]["sort"] == "memory_percent"
    finally:
        await hub.stop()
