"""Seeding a hub's store with a large fleet through the store API, in bulk.

``seed`` adds ``count`` systems ``fleet-NNNNN``, each with a system token and (unless
``snapshots`` is 0) that many snapshots of the document ``fleetwatch push`` builds on this
machine, the newest at ``now``: the store a fleet that has pushed leaves behind, without 10,000
HTTP round trips. The writes are issued 200 at a time so they share group commits.
"""

from __future__ import annotations

import asyncio
import time
from typing import Any

from fleetwatch.agent.document import DocumentBuilder
from fleetwatch.auth.admin import Actor, Admin
from fleetwatch.auth.secrets import SYSTEM_TOKEN_PREFIX, PasswordHashing, new_token
from fleetwatch.ingest.normalise import normalise
from fleetwatch.store import EventRecord, open_store

__all__ = ["BATCH", "add_user", "agent_document", "seed"]

BATCH = 200
STALE_AFTER = 120.0  # the staleness watcher's minimum window
PREFIX = "fleet-"


def agent_document(*, busy: bool = False) -> dict[str, Any]:
    """The agent's document, with a calm (or busy) CPU so the fleet's state does not depend on
    this machine's load when it was built."""
    document = DocumentBuilder().build()
    cpu = {"user": 85.0, "system": 10.0, "idle": 5.0} if busy else {
        "user": 12.0, "system": 3.0, "idle": 85.0}  # fmt: skip
    document["cpu"] = [dict(cpu) for _ in document["cpu"]]
    return document


def system_name(n: int) -> str:
    return f"{PREFIX}{n:05d}"


async def _seed(url: str, count: int, snapshots: int, interval: float, age: float) -> list[str]:
    store = open_store(url, max_queue=100_000)
    await store.open()
    document = agent_document()
    now = time.time()
    tokens: list[str] = []
    try:

        async def one(n: int) -> str:
            name = system_name(n)
            system = await store.add_system(name, hostname=name)
            token = new_token(SYSTEM_TOKEN_PREFIX)
            await store.add_system_token(system.id, "default", token.digest, token.prefix)
            doc = {**document, "hostname": name}
            stats = normalise(doc)
            # Spread over the interval, as a fleet's pushes are.
            newest = now - age - interval * (n % 97) / 97
            for k in range(snapshots, 0, -1):
                await store.add_snapshot(system.id, newest - (k - 1) * interval, doc, stats, "push")
            if snapshots:
                await store.touch_system(system.id, newest, name)
            if snapshots and age > STALE_AFTER:
                # Silent that long: its STALE event is already open, as the hub would have left it.
                silent = now - newest
                await store.save_event(EventRecord(
                    id=None, system_id=system.id, begin=newest + STALE_AFTER, end=-1,
                    state="CRITICAL", type="STALE", value_max=silent, value_avg=silent,
                    value_min=silent, value_sum=silent, count=1, desc="silent",
                ))  # fmt: skip
            return token.secret

        for start in range(0, count, BATCH):
            tokens += await asyncio.gather(
                *(one(n) for n in range(start, min(count, start + BATCH)))
            )
    finally:
        await store.close()
    return tokens


def seed(
    url: str, count: int, *, snapshots: int = 1, interval: float = 10.0, age: float = 0.0
) -> list[str]:
    """Add the fleet; the systems' tokens, in order. ``age``: how long ago the newest snapshots
    were taken (past ``STALE_AFTER``, each system's STALE event is open: a silent fleet)."""
    return asyncio.run(_seed(url, count, snapshots, interval, age))


def add_user(url: str, name: str, password: str, groups: list[str]) -> None:
    async def run() -> None:
        store = open_store(url)
        await store.open()
        try:
            if await store.get_user(name) is None:
                await Admin(store, PasswordHashing()).add_user(
                    Actor("bench", "127.0.0.1"), name, password, groups
                )
        finally:
            await store.close()

    asyncio.run(run())
