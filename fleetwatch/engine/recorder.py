"""The hub's own machine as a stored system: a snapshot of its stats every ``store_interval``.

So the hub's machine appears beside pushed systems in history and queries. The per-process
lists (processlist, programlist) are left out: they are large and change every second.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable
from typing import Any

from fleetwatch.store import Store, StoreError

log = logging.getLogger(__name__)

LEFT_OUT = frozenset({"processlist", "programlist", "help", "psutilversion", "now"})
FIRST_TRY_SECONDS = 1.0


class LocalRecorder:
    def __init__(
        self,
        store: Store,
        latest: Callable[[], dict[str, Any]],
        interval: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.latest = latest
        self.interval = interval
        self.clock = clock
        self.system_id: int | None = None

    async def record(self) -> int | None:
        stats = {k: v for k, v in self.latest().items() if k not in LEFT_OUT}
        if self.system_id is None or not stats:
            return None
        now = self.clock()
        hostname = (stats.get("system") or {}).get("hostname")
        snapshot_id = await self.store.add_snapshot(self.system_id, now, stats, stats, "local")
        await self.store.touch_system(self.system_id, now, hostname)
        return snapshot_id

    async def run(self, stop: asyncio.Event) -> None:
        # The first snapshot as soon as the collector has one: the hub's own machine is "up" in
        # the fleet from the start, not "never seen" for a whole interval.
        wait = min(self.interval, FIRST_TRY_SECONDS)
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=wait)
            try:
                if await self.record() is not None:
                    wait = self.interval
            except StoreError as exc:
                log.warning("could not store the hub's own snapshot: %s", exc)
