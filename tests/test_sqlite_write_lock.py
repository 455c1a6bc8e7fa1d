"""Other processes writing the same SQLite file (the notification worker, the CLI): the hub's
writer takes the write lock as soon as they let it go, and gives up with a 503 only after its
busy timeout."""

from __future__ import annotations

import sqlite3
import threading
import time
from pathlib import Path

import pytest

from fleetwatch.store import StoreUnavailable
from fleetwatch.store.sqlite import SQLiteStore

pytestmark = pytest.mark.anyio


def hold_write_lock(path: Path, seconds: float, taken: threading.Event) -> threading.Thread:
    """Another process's writer: the write lock for ``seconds``."""

    def hold() -> None:
        conn = sqlite3.connect(path, isolation_level=None)
        conn.execute("BEGIN IMMEDIATE")
        taken.set()
        time.sleep(seconds)
        conn.execute("COMMIT")
        conn.close()

    thread = threading.Thread(target=hold)
    thread.start()
    return thread


async def test_a_write_waits_for_another_writer_and_goes_in_when_it_is_done(
    tmp_path: Path,
) -> None:
    store = SQLiteStore(tmp_path / "hub.sqlite3")
    await store.open()
    try:
        taken = threading.Event()
        other = hold_write_lock(tmp_path / "hub.sqlite3", 0.4, taken)
        taken.wait(5)
        started = time.monotonic()
        system = await store.add_system("nas1")
        waited = time.monotonic() - started
        other.join()
        assert system.name == "nas1"
        # How soon after the other's COMMIT is measured by bench/fleet_scale.py (the push
        # storm): here, that it waited for it and went in.
        assert 0.3 < waited < 2.0, waited
    finally:
        await store.close()


async def test_a_lock_held_past_the_busy_timeout_is_a_503(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "hub.sqlite3", busy_timeout_seconds=0.2)
    await store.open()
    try:
        taken = threading.Event()
        other = hold_write_lock(tmp_path / "hub.sqlite3", 1.0, taken)
        taken.wait(5)
        with pytest.raises(StoreUnavailable):
            await store.add_system("nas1")
        other.join()
        assert (await store.add_system("nas1")).name == "nas1"  # free again: it goes in
    finally:
        await store.close()
