"""Silent systems: a ``STALE`` event when a pushing system misses its window, ended by its return.

The window is 3 x the system's median interval between submissions (its own rhythm: a NAS
that reports hourly is not late after 5 minutes), and at least ``minimum`` seconds.

The rhythms live in the store (``system_rhythms``, migration 0012), not in this process, so
every hub sharing a database gives the same answer and each silence gets one event:

- every hub records the submissions it receives, coalesced, ``delay`` seconds after them (one
  upsert each, in one group: the row's ``due_at`` moves to ``last_seen + minimum``, a lower
  bound of any window);
- one hub of the fleet (the holder of the ``staleness`` lock) looks, each second, at the rows
  whose ``due_at`` came (one index range, empty while all is well, whatever the fleet's size):
  it opens the STALE event of a system past its window, moves the others' ``due_at`` to their
  true window's end, and ends the event of a stale system that pushed again;
- every hub reads which systems are stale (a partial index of the stale ones) whenever the
  ``stale`` counter moved, one small read a second otherwise.

A start reads nothing per system: rows made by the migration from older data are due at once,
and their intervals are read from their snapshots then, a batch per second.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import statistics
import time
from collections.abc import Callable
from dataclasses import replace

from fleetwatch.engine.debounce import DebouncedWrite
from fleetwatch.engine.jobs import FleetJob
from fleetwatch.store import EventRecord, Store, StoreError
from fleetwatch.store.hubs import NEVER, RhythmRow
from fleetwatch.store.hubs_sql import KEPT_INTERVALS

__all__ = ["StalenessWatcher"]

log = logging.getLogger(__name__)

INTERVALS_KEPT = KEPT_INTERVALS


class StalenessWatcher:
    def __init__(
        self,
        store: Store,
        minimum: float = 120.0,
        factor: float = 3.0,
        clock: Callable[[], float] = time.time,
        *,
        batch: int = 500,
        delay: float = 0.2,
    ) -> None:
        self.store = store
        self.minimum = minimum
        self.factor = factor
        self.clock = clock
        self.batch = batch
        self.delay = delay
        self.job = FleetJob(store, "staleness")
        # Stale system id -> its STALE event's id, as the store said at the last look.
        self.stale: dict[int, int | None] = {}
        self._generation: int | None = None
        self._pending: list[tuple[int, float]] = []
        self._writer = DebouncedWrite(self._write, delay)

    def window(self, intervals: list[float] | None) -> float:
        if not intervals:
            return self.minimum
        return max(self.minimum, self.factor * statistics.median(intervals))

    def is_stale(self, system_id: int) -> bool:
        return system_id in self.stale

    async def restore(self) -> None:
        """Which systems are stale now (nothing per system is read: see the module)."""
        await self.refresh(force=True)

    async def seen(self, system_id: int, now: float) -> None:
        """A submission arrived: recorded with the others of the next ``delay`` seconds; a
        stale system's return ends its event now (whichever hub it reached: the store lets
        one end it)."""
        self._pending.append((system_id, now))
        if system_id in self.stale:
            try:
                await self.flush()
                row = (await self.store.rhythms([system_id])).get(system_id)
                if row is not None and row.stale_since is not None and await self._returned(row):
                    self.stale.pop(system_id, None)
                    await self.store.bump_counter("stale")
            except StoreError as exc:  # the staleness job ends it at its next look
                log.warning("could not end the STALE event of system %s: %s", system_id, exc)
            return
        self._writer.soon()

    async def flush(self) -> None:
        """Write the submissions still pending, and wait for writes under way."""
        await self._writer.flush()

    async def _write(self) -> None:
        pending, self._pending = self._pending, []
        if not pending:
            return
        try:
            await self.store.record_seen(pending, self.minimum)
        except StoreError as exc:
            log.warning("could not record %d submissions' rhythm: %s", len(pending), exc)

    async def refresh(self, *, force: bool = False) -> None:
        """Read the stale systems again if the ``stale`` counter moved since the last look."""
        generation = await self.store.counter("stale")
        if force or generation != self._generation:
            self.stale = await self.store.stale_systems()
            self._generation = generation

    async def check(self) -> list[int]:
        """Act on every row due (this hub must hold the job); return the systems made stale."""
        await self.flush()
        opened: list[int] = []
        changed = False
        while True:
            now = self.clock()
            due = await self.store.rhythms_due(now, self.batch)
            for row in due:
                if row.stale_since is not None:
                    changed |= await self._returned(row)
                elif await self._look(row, now):
                    opened.append(row.system_id)
                    changed = True
            if len(due) < self.batch:
                break
            await asyncio.sleep(0)  # a big backlog (after an upgrade) shares the loop
        if changed:
            await self.store.bump_counter("stale")
        await self.refresh(force=changed)
        return opened

    async def _look(self, row: RhythmRow, now: float) -> bool:
        intervals = row.intervals
        if intervals is None:
            intervals = await self._intervals_from_snapshots(row.system_id)
        window = self.window(intervals)
        silent = now - row.last_seen
        if silent <= window:
            due = row.last_seen + window
            await self.store.set_rhythm(
                row.system_id, intervals=intervals, due_at=due, last_seen=row.last_seen
            )
            return False
        if not await self.store.claim_stale(row.system_id, row.last_seen, now):
            return False  # it pushed meanwhile
        if row.intervals is None:
            await self.store.set_rhythm(row.system_id, intervals=intervals, due_at=NEVER,
                                        last_seen=row.last_seen)  # fmt: skip
        event = EventRecord(
            id=None, system_id=row.system_id, begin=now, end=-1, state="CRITICAL",
            type="STALE", value_max=silent, value_avg=silent, value_min=silent,
            value_sum=silent, count=1,
            desc=f"No statistics for {silent:.0f} s (window {window:.0f} s)",
            data={"last_seen": row.last_seen, "window": window},
        )  # fmt: skip
        try:
            event_id = await self.store.save_event(event)
        except StoreError as exc:
            log.warning("could not save the STALE event of system %s: %s", row.system_id, exc)
            return True
        await self.store.set_stale_event(row.system_id, event_id)
        return True

    async def _returned(self, row: RhythmRow) -> bool:
        assert row.stale_since is not None
        window = self.window(row.intervals)
        if not await self.store.clear_stale(row.system_id, row.stale_since, row.last_seen + window):
            return False
        end = row.returned_at if row.returned_at is not None else row.last_seen
        if row.stale_event_id is not None:
            await self._end(row.system_id, row.stale_event_id, end)
        return True

    async def _end(self, system_id: int, event_id: int, end: float) -> None:
        try:
            for event in await self.store.list_events(system_id=system_id, open_only=True):
                if event.id == event_id:
                    await self.store.save_event(replace(event, end=end))
        except StoreError as exc:  # cleared meanwhile, or the store failed
            log.warning("could not end the STALE event of system %s: %s", system_id, exc)

    async def _intervals_from_snapshots(self, system_id: int) -> list[float]:
        rows = await self.store.snapshots(system_id, limit=INTERVALS_KEPT + 1)
        times = sorted(r.created_at for r in rows)
        return [b - a for a, b in itertools.pairwise(times)]

    async def run(self, stop: asyncio.Event, every: float = 1.0) -> None:
        while not stop.is_set():
            try:
                if await self.job.held():
                    await self.check()
                else:
                    await self.refresh()
            except StoreError as exc:
                log.warning("staleness: the store failed (%s); trying again", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every)
        await self.flush()
