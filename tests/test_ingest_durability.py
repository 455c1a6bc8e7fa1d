"""kill -9 in the middle of a burst of submissions: every acknowledged one is in the store."""

from __future__ import annotations

import asyncio
import signal
import threading
from pathlib import Path

import httpx
import pytest
from serving import ServeProcess

from fleetwatch.auth.admin import Actor, Admin
from fleetwatch.auth.secrets import PasswordHashing
from fleetwatch.store import open_store

pytestmark = pytest.mark.e2e


def add_system(url: str, name: str) -> tuple[int, str]:
    async def add() -> tuple[int, str]:
        store = open_store(url)
        await store.open()
        try:
            system, token = await Admin(store, PasswordHashing()).add_system(
                Actor("t", "127.0.0.1"), name
            )
            return system.id, token
        finally:
            await store.close()

    return asyncio.run(add())


def stored_hostnames(url: str, system_id: int) -> set[str]:
    async def read() -> set[str]:
        store = open_store(url)
        await store.open()
        try:
            rows = await store.snapshots(system_id, limit=100_000)
            return {r.document["hostname"] for r in rows}
        finally:
            await store.close()

    return asyncio.run(read())


def test_acknowledged_submissions_survive_kill_9(store_url: str, tmp_path: Path) -> None:
    system_id, token = add_system(store_url, "burst")
    acknowledged: list[str] = []
    lock = threading.Lock()
    with ServeProcess(tmp_path / "data", "--database", store_url) as hub:
        stop = threading.Event()

        def submit(worker: int) -> None:
            with httpx.Client(base_url=hub.url, auth=("", token), timeout=5) as client:
                for n in range(100_000):
                    if stop.is_set():
                        return
                    name = f"w{worker}-{n}"
                    try:
                        response = client.put("/api/external/submit_stats", json={"hostname": name})
                    except httpx.HTTPError:
                        return  # the hub is gone: this one was never acknowledged
                    if response.status_code == 200 and response.json() == {"result": "success"}:
                        with lock:
                            acknowledged.append(name)

        workers = [threading.Thread(target=submit, args=(w,)) for w in range(8)]
        for w in workers:
            w.start()
        while True:
            with lock:
                if len(acknowledged) >= 300:
                    break
            threading.Event().wait(0.01)
        assert hub.proc is not None
        hub.proc.send_signal(signal.SIGKILL)  # mid-burst, no shutdown at all
        hub.proc.wait(10)
        stop.set()
        for w in workers:
            w.join(10)
    stored = stored_hostnames(store_url, system_id)
    missing = set(acknowledged) - stored
    assert not missing, f"{len(missing)} of {len(acknowledged)} acknowledged submissions were lost"
    assert len(acknowledged) >= 300
