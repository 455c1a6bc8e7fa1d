"""A write that waits a moment so that a burst of changes costs one round trip, not one each.

Submissions arrive by the thousand a second; what they change (a system's ``last_seen``, its
rhythm) is kept in memory and written by one statement batch ``delay`` seconds after the first
change of a burst. ``flush`` writes at once and waits for writes under way, for readers that
must see every change so far and at stop.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable


class DebouncedWrite:
    """Runs ``write`` ``delay`` seconds after the first ``soon`` of a burst."""

    def __init__(self, write: Callable[[], Awaitable[None]], delay: float) -> None:
        self._write = write
        self.delay = delay
        self._timer: asyncio.TimerHandle | None = None
        self._flushing: set[asyncio.Task[None]] = set()

    def soon(self) -> None:
        if self._timer is None:
            self._timer = asyncio.get_running_loop().call_later(self.delay, self._start)

    def _start(self) -> None:
        self._timer = None
        task = asyncio.ensure_future(self._write())
        self._flushing.add(task)
        task.add_done_callback(self._flushing.discard)

    async def flush(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        await self._write()
        await asyncio.gather(*self._flushing)
