"""How many expensive reads one client may run at once.

A list query or an OP5 filter can keep a database backend or a thread busy for seconds. Ten of
them from one client, all at once, took both cores of a small machine (the database's
processes beside the hub's), and every other client's request waited for the CPU. Each
principal therefore gets a few slots; a request beyond them waits for one of its own client's
slots within its own time limit (503 after it), so one client can slow only itself.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fleetwatch.auth.authenticator import Principal

__all__ = ["QuerySlots", "SlotTimeout"]


class SlotTimeout(Exception):
    """No slot of this client's came free within the request's time limit."""


class QuerySlots:
    def __init__(self, per_client: int) -> None:
        if per_client < 1:
            raise ValueError("per_client must be at least 1")
        self.per_client = per_client
        self._held: dict[str, asyncio.Semaphore] = {}
        self._users: dict[str, int] = {}

    @staticmethod
    def key(principal: Principal) -> str:
        return f"{principal.kind}:{principal.name}"

    @asynccontextmanager
    async def hold(self, principal: Principal, wait: float) -> AsyncIterator[None]:
        """One of ``principal``'s slots for the block; ``SlotTimeout`` after ``wait`` s."""
        key = self.key(principal)
        slots = self._held.setdefault(key, asyncio.Semaphore(self.per_client))
        self._users[key] = self._users.get(key, 0) + 1
        try:
            try:
                async with asyncio.timeout(wait):
                    await slots.acquire()
            except TimeoutError:
                raise SlotTimeout(key) from None
            try:
                yield
            finally:
                slots.release()
        finally:
            # Forget idle clients: the table holds only those with a request under way.
            self._users[key] -= 1
            if not self._users[key]:
                del self._users[key], self._held[key]

    def clients(self) -> int:
        """Clients with a request holding or waiting for a slot."""
        return len(self._held)
