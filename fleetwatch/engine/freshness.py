"""The freshness scheduler: stale results for silent hosts and services, and downtime edges.

It sleeps until the earliest deadline the store knows (``next_due``, an indexed look-up, never
a scan of every service), at most ``poll_seconds`` so that deadlines set by another process
(the CLI, another hub) are seen within that time, and is woken at once when this process moves
a deadline. Deadlines live in the store, so a restart forgets nothing: what fell due while the
hub was down is marked stale as soon as it starts. Each silence is marked once: the synthetic
result clears the deadline until a real result sets it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from fleetwatch.engine.checks import CheckService
from fleetwatch.engine.jobs import FleetJob
from fleetwatch.store.errors import StoreError

__all__ = ["FreshnessScheduler"]

log = logging.getLogger(__name__)


class FreshnessScheduler:
    def __init__(
        self,
        checks: CheckService,
        *,
        poll_seconds: float = 1.0,
        batch: int = 500,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.checks = checks
        self.poll_seconds = poll_seconds
        self.batch = batch
        self.clock = clock
        self._wakeup = asyncio.Event()
        checks.on_schedule_change = self.wake
        self.job = FleetJob(checks.store, "freshness")

    def wake(self) -> None:
        """A deadline may have moved earlier: look again now."""
        self._wakeup.set()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            self._wakeup.clear()
            try:
                # One hub of those sharing a database marks silences; the others look again
                # each poll, and take over within one when the holder is gone.
                delay = await self.run_due() if await self.job.held() else self.poll_seconds
            except StoreError as exc:
                log.warning("freshness: the store failed (%s); trying again", exc)
                delay = self.poll_seconds
            if delay > 0:
                await _first_of(stop, self._wakeup, delay)

    async def run_due(self) -> float:
        """Act on everything due now; return the seconds until the next deadline (capped)."""
        store = self.checks.store
        while True:
            now = self.clock()
            due = await store.next_due()
            if due is None or due > now:
                return self.poll_seconds if due is None else min(due - now, self.poll_seconds)
            for obj in await store.due_check_objects(now, limit=self.batch):
                await self.checks.mark_stale(obj, now)
            for downtime in await store.due_downtimes(now, limit=self.batch):
                await self.checks.advance_downtime(downtime, now)


async def _first_of(stop: asyncio.Event, wakeup: asyncio.Event, seconds: float) -> None:
    waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wakeup.wait())]
    try:
        await asyncio.wait(waits, timeout=seconds, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await wait
