"""The whole fleet's bodies (``count=0``), each built at most once a second.

With 10,000 systems the whole list of ``/api/v1/systems``, ``/api/servers/list`` or
``/api/4/serverslist`` takes a third to a half of a second of the hub's one Python thread to
build. A client polling it back to back would spend that thread on it; several clients asking
at once would each build their own. Here a body is kept for ``seconds`` per route and query,
and callers that ask while it is being built wait for that one build. Figures a second old are
still current: systems push every 10 s or more.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

__all__ = ["WHOLE_KEPT", "WHOLE_SECONDS", "WholeBodies"]

T = TypeVar("T")

WHOLE_SECONDS = 1.0
WHOLE_KEPT = 16  # query strings remembered: a client varying its query cannot grow this


class WholeBodies(Generic[T]):
    """Built values by key, reused for ``seconds``; one build at a time per key."""

    def __init__(self, seconds: float = WHOLE_SECONDS, kept: int = WHOLE_KEPT) -> None:
        self.seconds = seconds
        self.kept = kept
        self._held: dict[bytes, tuple[float, T]] = {}
        self._building: dict[bytes, asyncio.Task[T]] = {}

    async def get(self, key: bytes, build: Callable[[], Awaitable[T]]) -> T:
        held = self._held.get(key)
        if held is not None and time.monotonic() - held[0] < self.seconds:
            return held[1]
        task = self._building.get(key)
        if task is None:
            # Its own task: the first asker leaving (its client went away) does not cancel the
            # build the others wait for.
            task = asyncio.get_running_loop().create_task(self._build(key, build))
            task.add_done_callback(_retrieve)
            self._building[key] = task
        return await asyncio.shield(task)

    async def _build(self, key: bytes, build: Callable[[], Awaitable[T]]) -> T:
        try:
            value = await build()
        finally:
            del self._building[key]
        if len(self._held) >= self.kept:
            self._held.clear()
        self._held[key] = (time.monotonic(), value)
        return value


def _retrieve(task: asyncio.Task[object]) -> None:
    # A build whose askers all left still ends: its error is read so asyncio does not log it
    # as never retrieved (the askers that stayed got it raised).
    if not task.cancelled():
        task.exception()
