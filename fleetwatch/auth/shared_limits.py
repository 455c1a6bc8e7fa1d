"""Failed logins shared by the hubs of one PostgreSQL database (``auth_failures``, 0012).

Each hub's ``CredentialLimiter`` stays the judge, in memory: a request's check reads no table,
and a successful sign-in writes nothing (unless it clears failures it had). What is shared is
the failures themselves: each hub writes its own, and reads everyone else's (the rows after
the last it read: one indexed look-up a second, and one more right after each failure of its
own, so that a guesser spreading attempts over N hubs meets one ceiling, not N). Rows older
than twice the window are deleted by whichever hub gets there.

SQLite has one hub per file: nothing is written or read there.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import Callable

from fleetwatch.auth.ratelimit import CredentialLimiter
from fleetwatch.store import Store, StoreError

__all__ = ["SharedLimits"]

log = logging.getLogger(__name__)

READ_AT_ONCE = 1000


class SharedLimits:
    def __init__(
        self,
        store: Store,
        limiter: CredentialLimiter,
        *,
        clock: Callable[[], float] = time.time,
        prune_every: float = 60.0,
    ) -> None:
        self.store = store
        self.limiter = limiter
        self.window = limiter.pairs.window
        self.clock = clock
        self.prune_every = prune_every
        self._after = 0
        self._mine: set[int] = set()
        self._pruned_at = 0.0
        self._lock = asyncio.Lock()

    async def failed(self, credential: str, address: str) -> None:
        """This hub counted a failure: share it, and catch up with the others' meanwhile."""
        try:
            ids = await self.store.add_auth_marks([(credential, address, self.clock(), False)])
            self._mine.update(ids)
            await self.sync()
        except StoreError as exc:
            log.warning("could not share a failed login: %s", exc)

    async def succeeded(self, credential: str, address: str) -> None:
        """The pair's failures are forgotten by every hub (only called when it had some)."""
        try:
            ids = await self.store.add_auth_marks([(credential, address, self.clock(), True)])
            self._mine.update(ids)
        except StoreError as exc:
            log.warning("could not share a sign-in's clearing of failures: %s", exc)

    async def sync(self) -> int:
        """Count the other hubs' failures since the last look; return how many rows came."""
        async with self._lock:
            now = self.clock()
            marks = await self.store.auth_marks_after(self._after, now - self.window, READ_AT_ONCE)
            for mark in marks:
                self._after = max(self._after, mark.id)
                if mark.id in self._mine:
                    self._mine.discard(mark.id)
                    continue
                if mark.succeeded:
                    self.limiter.pairs.succeed(f"{mark.credential}@{mark.address}")
                else:
                    ago = max(0.0, now - mark.at)
                    self.limiter.fail(mark.credential, mark.address, ago=ago)
            if now - self._pruned_at > self.prune_every:
                self._pruned_at = now
                await self.store.prune_auth_marks(now - 2 * self.window)
            return len(marks)

    async def run(self, stop: asyncio.Event, interval: float = 1.0) -> None:
        while not stop.is_set():
            try:
                await self.sync()
            except StoreError as exc:
                log.debug("could not read other hubs' failed logins: %s", exc)
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
