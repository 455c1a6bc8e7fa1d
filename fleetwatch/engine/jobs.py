"""Jobs that run once in the fleet (staleness, freshness, roll-ups, retention): held by one hub.

A ``FleetJob`` asks the store for its lock before each run: on PostgreSQL a session advisory
lock on a connection of its own, which the server frees when the holding hub dies, so another
hub's next try (each of the job's periods) takes the job over; on SQLite always granted, one
hub per file. Taking and losing a job are logged, once.
"""

from __future__ import annotations

import logging

from fleetwatch.store import Store, StoreError

__all__ = ["FleetJob"]

log = logging.getLogger(__name__)


class FleetJob:
    def __init__(self, store: Store, name: str) -> None:
        self.store = store
        self.name = name
        self.holding = False

    async def held(self) -> bool:
        """True while this hub runs the job; False while another does (or the store failed)."""
        try:
            holding = await self.store.hold_lock(f"job:{self.name}")
        except StoreError as exc:
            log.warning("job %s: cannot reach the lock (%s)", self.name, exc)
            holding = False
        if holding != self.holding:
            log.info(
                "job %s: %s", self.name, "this hub runs it" if holding else "another hub runs it"
            )
            self.holding = holding
        return holding
