"""Systems' ``last_seen``, written a fraction of a second after their snapshots, coalesced.

Each acknowledged snapshot makes its system "seen"; rather than one more write per snapshot
(a second group commit, and at a low rate a second fsync, for every submission), the newest
time and host name per system are kept here and written together ``delay`` seconds after the
first one, as one group. ``last_seen`` is bookkeeping derived from the snapshots, so one lost to
a crash in that window is only a fraction of a second behind; the system's next snapshot, or a
look at its latest snapshot, brings it up to date.
"""

from __future__ import annotations

import asyncio
import logging

from fleetwatch.engine.debounce import DebouncedWrite
from fleetwatch.store import NotFound, Store, StoreError

__all__ = ["LastSeen"]

log = logging.getLogger(__name__)


class LastSeen:
    def __init__(self, store: Store, delay: float = 0.2) -> None:
        self.store = store
        self.delay = delay
        self._due: dict[int, tuple[float, str | None]] = {}
        self._writer = DebouncedWrite(self._write, delay)

    def seen(self, system_id: int, when: float, hostname: str | None) -> None:
        """Record a committed snapshot; written within ``delay`` seconds."""
        previous = self._due.get(system_id)
        if previous is None or when >= previous[0]:
            self._due[system_id] = (when, hostname or (previous[1] if previous else None))
        self._writer.soon()

    async def flush(self) -> None:
        """Write every pending ``last_seen`` now and wait for writes under way (at stop)."""
        await self._writer.flush()

    async def _write(self) -> None:
        due, self._due = self._due, {}
        touches = [self.store.touch_system(sid, when, host) for sid, (when, host) in due.items()]
        for result in await asyncio.gather(*touches, return_exceptions=True):
            # A system removed meanwhile has nothing to update.
            if isinstance(result, StoreError) and not isinstance(result, NotFound):
                log.warning("last_seen not updated: %s", result)
            elif isinstance(result, BaseException) and not isinstance(result, StoreError):
                raise result
