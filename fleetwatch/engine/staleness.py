"""Silent systems: a ``STALE`` event when a pushing system misses its window, ended by its return.

The window is 3 x the system's median interval between submissions (its own rhythm: a NAS
that reports hourly is not late after 5 minutes), and at least ``minimum`` seconds.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import statistics
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from fleetwatch.store import EventRecord, Store, StoreError

log = logging.getLogger(__name__)

INTERVALS_KEPT = 20


@dataclass(slots=True)
class Rhythm:
    last_seen: float
    intervals: deque[float] = field(default_factory=lambda: deque(maxlen=INTERVALS_KEPT))
    stale: EventRecord | None = None


class StalenessWatcher:
    def __init__(
        self,
        store: Store,
        minimum: float = 120.0,
        factor: float = 3.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.minimum = minimum
        self.factor = factor
        self.clock = clock
        self.systems: dict[int, Rhythm] = {}

    def window(self, rhythm: Rhythm) -> float:
        if not rhythm.intervals:
            return self.minimum
        return max(self.minimum, self.factor * statistics.median(rhythm.intervals))

    async def restore(self) -> None:
        """Pushing systems and their open STALE events, after a restart."""
        for system in await self.store.list_systems():
            if system.source == "local" or system.last_seen is None:
                continue
            rhythm = Rhythm(system.last_seen)
            rows = await self.store.snapshots(system.id, limit=INTERVALS_KEPT + 1)
            times = sorted(r.created_at for r in rows)
            rhythm.intervals.extend(b - a for a, b in itertools.pairwise(times))
            open_events = await self.store.list_events(system_id=system.id, open_only=True)
            rhythm.stale = next((e for e in open_events if e.type == "STALE"), None)
            self.systems[system.id] = rhythm

    async def seen(self, system_id: int, now: float) -> None:
        """A submission arrived: record the rhythm, and end a STALE event if one is open."""
        rhythm = self.systems.get(system_id)
        if rhythm is None:
            self.systems[system_id] = Rhythm(now)
            return
        if now > rhythm.last_seen:
            rhythm.intervals.append(now - rhythm.last_seen)
        rhythm.last_seen = now
        if rhythm.stale is not None:
            ended = replace(rhythm.stale, end=now)
            rhythm.stale = None
            await self._save(ended)

    async def check(self) -> list[int]:
        """Open a STALE event for every system past its window; returns their ids."""
        now = self.clock()
        opened = []
        for system_id, rhythm in self.systems.items():
            silent = now - rhythm.last_seen
            window = self.window(rhythm)
            if rhythm.stale is None and silent > window:
                event = EventRecord(
                    id=None, system_id=system_id, begin=now, end=-1, state="CRITICAL",
                    type="STALE", value_max=silent, value_avg=silent, value_min=silent,
                    value_sum=silent, count=1,
                    desc=f"No statistics for {silent:.0f} s (window {window:.0f} s)",
                    data={"last_seen": rhythm.last_seen, "window": window},
                )  # fmt: skip
                rhythm.stale = await self._save(event)
                opened.append(system_id)
        return opened

    async def _save(self, event: EventRecord) -> EventRecord | None:
        try:
            return replace(event, id=await self.store.save_event(event))
        except StoreError as exc:
            log.warning("could not save the STALE event of system %s: %s", event.system_id, exc)
            return None

    async def run(self, stop: asyncio.Event, every: float = 1.0) -> None:
        while not stop.is_set():
            await self.check()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=every)
