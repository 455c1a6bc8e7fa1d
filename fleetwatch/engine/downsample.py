"""Rolling stored snapshots up into 1-minute and 1-hour summaries, in the background.

Every ``every`` seconds the job summarises the minutes that closed since it last ran (a minute
is closed ``settle`` seconds after its end, so a snapshot stamped just before the boundary has
been committed), then the hours whose minutes are all rolled up. It reads each system's new
snapshots' minutes from the database, which walks their JSON and sums them (an hour of
snapshots per statement), and writes the buckets in chunks through the store's group-commit
writer: neither the ingest path nor the hub's Python thread pays for reading every snapshot.
A watermark per resolution records how far it got; a crash before the watermark moves only
means the same buckets are written again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable, Mapping

from fleetwatch.engine.jobs import FleetJob
from fleetwatch.model.plugin import PluginSpec
from fleetwatch.model.rollup import HOUR, MINUTE, Bucket, bucket_of
from fleetwatch.store import Store, StoreError
from fleetwatch.store.rollups import HistoryItem, RollupRecord

__all__ = ["DownsampleJob"]

log = logging.getLogger(__name__)
DAY = 86400.0
FLUSH_ROWS = 500  # rollups gathered across systems before they are written


class DownsampleJob:
    def __init__(
        self,
        store: Store,
        specs: Mapping[str, PluginSpec],
        *,
        first_days: float = 30.0,
        every: float = 60.0,
        settle: float = 10.0,
        page: int = 500,
        window: float = HOUR,
        clock: Callable[[], float] = time.time,
    ) -> None:
        """``first_days``: how far back the very first run starts (the raw retention);
        ``window``: the snapshots summarised by one statement, in seconds (whole minutes);
        ``page``: the minutes read at once to merge hours."""
        self.store = store
        self.items = [
            HistoryItem(name, field, spec.key if spec.shape == "list" else None)
            for name, spec in specs.items()
            for field in spec.history
        ]
        self.first_days = first_days
        self.every = every
        self.settle = settle
        self.page = max(page, 2)
        self.window = max(MINUTE, bucket_of(window, MINUTE))
        self.clock = clock
        self._pending: list[RollupRecord] = []
        self.job = FleetJob(store, "rollups")  # one hub of those sharing a database runs it

    async def roll_up(self) -> int:
        """Roll up every closed minute and hour not yet done; return the rows written."""
        now = self.clock()
        written = await self._minutes(bucket_of(now - self.settle, MINUTE))
        minutes_done = await self.store.rollup_watermark(MINUTE)
        if minutes_done is not None:
            written += await self._hours(bucket_of(minutes_done, HOUR))
        return written

    async def _start(self, resolution: int, fallback: float) -> float:
        done = await self.store.rollup_watermark(resolution)
        return bucket_of(fallback, resolution) if done is None else done

    async def _minutes(self, closed: float) -> int:
        first = self.clock() - self.first_days * DAY if self.first_days > 0 else 0.0
        start = await self._start(MINUTE, first)
        if closed <= start:
            return 0
        written = 0
        # Only the systems that stored something since the watermark: an idle fleet of 10,000
        # costs one index range per minute, not 10,000 statements.
        for system_id in await self.store.systems_with_snapshots(start, closed):
            written += await self._system_minutes(system_id, start, closed)
        written += await self._flush()
        await self.store.set_rollup_watermark(MINUTE, closed)
        return written

    async def _system_minutes(self, system_id: int, since: float, until: float) -> int:
        written = 0
        while since < until and self.items:
            if until - since > self.window:
                # A quiet stretch (a system switched off for a week) costs one index probe, not
                # a statement per window; the usual run, one minute, needs no probe.
                first = await self.store.first_snapshot_at(system_id, since, until)
                if first is None:
                    break
                since = max(since, bucket_of(first, MINUTE))
            # Windows end on a minute boundary, so no minute is split between two statements.
            end = min(until, bucket_of(since, MINUTE) + self.window)
            rows = await self.store.snapshot_summaries(system_id, since, end, MINUTE, self.items)
            buckets: dict[float, Bucket] = {}
            for start, plugin, item, total, low, high, count in rows:
                bucket = buckets.setdefault(start, Bucket())
                if plugin is None or item is None:
                    bucket.samples = count
                else:
                    bucket.add_totals(plugin, item, total, low, high, count)
            written += await self._queue(system_id, MINUTE, buckets)
            since = end
        return written

    async def _hours(self, closed: float) -> int:
        start = await self._start(HOUR, closed - self.first_days * DAY if self.first_days else 0)
        if closed <= start:
            return 0
        written = 0
        # A system has minute rollups in these hours only if it stored snapshots in them.
        for system_id in await self.store.systems_with_snapshots(start, closed):
            written += await self._system_hours(system_id, start, closed)
        written += await self._flush()
        await self.store.set_rollup_watermark(HOUR, closed)
        return written

    async def _system_hours(self, system_id: int, since: float, until: float) -> int:
        written = 0
        page = max(self.page, 2 * 60)  # minutes; more than an hour, so a full page progresses
        while since < until:
            rows = await self.store.rollups(
                system_id, MINUTE, since, until, limit=page, oldest=True
            )
            hours: dict[float, Bucket] = {}
            for row in rows:
                hour = hours.setdefault(bucket_of(row.bucket_start, HOUR), Bucket())
                hour.add_summary(row.stats, row.samples)
            if len(rows) < page:
                since = until
            else:  # the page may end inside an hour: that hour starts the next page
                since = bucket_of(rows[-1].bucket_start, HOUR)
                del hours[since]
            written += await self._queue(system_id, HOUR, hours)
        return written

    async def _queue(self, system_id: int, resolution: int, buckets: dict[float, Bucket]) -> int:
        self._pending.extend(
            RollupRecord(system_id, resolution, start, bucket.samples, bucket.stats())
            for start, bucket in buckets.items()
        )
        return await self._flush() if len(self._pending) >= FLUSH_ROWS else 0

    async def _flush(self) -> int:
        pending, self._pending = self._pending, []
        if pending:
            await self.store.save_rollups(pending)
        return len(pending)

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                written = await self.roll_up() if await self.job.held() else 0
                if written:
                    log.debug("rolled up %d buckets", written)
            except StoreError as exc:
                self._pending.clear()
                log.warning("downsampling history failed: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.every)
