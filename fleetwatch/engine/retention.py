"""Pruning snapshots, notification rows and rollups older than their retention periods, in
small batches.

Each batch is one short transaction through the group-commit writer, so ingestion never waits
long behind a prune; the job runs at start and then every ``every`` seconds. Rollups have their
own, longer, periods (``rollup_days``: resolution in seconds -> days), which is the point of
them: long-range history outlives the raw snapshots it was summarised from.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping

from fleetwatch.engine.jobs import FleetJob
from fleetwatch.store import Store, StoreError

log = logging.getLogger(__name__)
DAY = 86400.0


class RetentionJob:
    def __init__(
        self,
        store: Store,
        days: float,
        every: float = 3600.0,
        batch: int = 1000,
        clock: Callable[[], float] = time.time,
        rollup_days: Mapping[int, float] | None = None,
    ) -> None:
        self.store = store
        self.days = days
        self.every = every
        self.batch = batch
        self.clock = clock
        self.rollup_days = dict(rollup_days or {})
        self.job = FleetJob(store, "retention")  # one hub of those sharing a database runs it

    async def prune(self) -> int:
        removed = await self._prune_rollups()
        if self.days <= 0:
            return removed
        before = self.clock() - self.days * DAY
        pruned = await self.store.prune_snapshots(before, batch=self.batch)
        if pruned:
            log.info("pruned %d snapshots older than %g days", pruned, self.days)
        # Notifications' rows (outbox, deliveries and attempts, incidents) are kept as long.
        notes = await self.store.prune_notifications(before, batch=self.batch)
        if notes:
            log.info("pruned %d notification rows older than %g days", notes, self.days)
        return removed + pruned + notes

    async def _prune_rollups(self) -> int:
        removed = 0
        for resolution, days in sorted(self.rollup_days.items()):
            if days <= 0:
                continue
            before = self.clock() - days * DAY
            pruned = await self.store.prune_rollups(resolution, before, batch=self.batch)
            if pruned:
                log.info("pruned %d %ds rollups older than %g days", pruned, resolution, days)
            removed += pruned
        return removed

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                if await self.job.held():
                    await self.prune()
            except StoreError as exc:
                log.warning("pruning old snapshots failed: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.every)
