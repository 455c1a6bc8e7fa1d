"""Pruning snapshots older than the retention period, in small batches.

Each batch is one short transaction through the group-commit writer, so ingestion never waits
long behind a prune; the job runs at start and then every ``every`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

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
    ) -> None:
        self.store = store
        self.days = days
        self.every = every
        self.batch = batch
        self.clock = clock

    async def prune(self) -> int:
        if self.days <= 0:
            return 0
        before = self.clock() - self.days * DAY
        removed = await self.store.prune_snapshots(before, batch=self.batch)
        if removed:
            log.info("pruned %d snapshots older than %g days", removed, self.days)
        return removed

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.prune()
            except StoreError as exc:
                log.warning("pruning old snapshots failed: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.every)
