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
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=self.interval)
            try:
                await self.record()
            except StoreError as exc:
                log.warning("could not store the hub's own snapshot: %s", exc)
