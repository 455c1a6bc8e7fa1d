"""PostgreSQL's side of several hubs on one database: fleet-wide locks and change notices.

Locks are session advisory locks on a connection of their own: held while that connection
lives, and freed by the server the moment the process holding them dies (its socket closes),
so another hub's next try takes the job over. Notices are ``LISTEN`` on another connection,
since a connection waiting for notices can do nothing else.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
import zlib
from collections.abc import AsyncIterator
from typing import Any

import psycopg

__all__ = ["LOCK_CLASS", "PgLocks", "PgNotices", "lock_keys"]

log = logging.getLogger(__name__)

# The first key of the two-key advisory locks (the second is a hash of the lock's name): apart
# from the one-key locks of migrations and of the notification dispatcher.
LOCK_CLASS = 0x6677  # "fw"


# A lock connection proven alive this recently is taken as alive: the jobs of one period
# (staleness and freshness each ask every second) share one round trip.
PROVEN_SECONDS = 0.5


def lock_keys(name: str) -> tuple[int, int]:
    return LOCK_CLASS, zlib.crc32(name.encode()) & 0x7FFF_FFFF


class PgLocks:
    def __init__(self, conninfo: str, connect_timeout: int) -> None:
        self._conninfo = conninfo
        self._timeout = connect_timeout
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._held: set[str] = set()
        # Every lock this hub took: taken again as soon as a new lock connection is made. A job's
        # lock would be asked for again at its next period anyway, but nothing asks again for
        # the hub's own system name: without this, a lock connection lost (a database restart,
        # a network cut) left the name free for a second hub on this host to share.
        self._wanted: set[str] = set()
        self._proven_at = -PROVEN_SECONDS
        self._lock = asyncio.Lock()

    async def hold(self, name: str) -> bool:
        async with self._lock:
            try:
                conn = await self._connection()
                if name in self._held:
                    # Still ours while the connection lives: a round trip proves it does, once
                    # per PROVEN_SECONDS for all the jobs held (each asks every period).
                    now = time.monotonic()
                    if now - self._proven_at >= PROVEN_SECONDS:
                        await conn.execute("SELECT 1")
                        self._proven_at = now
                    return True
                cursor = await conn.execute("SELECT pg_try_advisory_lock(%s, %s)", lock_keys(name))
                row = await cursor.fetchone()
            except psycopg.Error:
                await self._drop()
                raise
            if row and row[0]:
                self._held.add(name)
                self._wanted.add(name)
                return True
            return False

    @contextlib.asynccontextmanager
    async def exclusive(self, name: str) -> AsyncIterator[None]:
        """Wait for ``name`` on a connection of its own (other locks stay usable meanwhile)."""
        conn = await psycopg.AsyncConnection.connect(
            self._conninfo, autocommit=True, connect_timeout=self._timeout
        )
        try:
            await conn.execute("SELECT pg_advisory_lock(%s, %s)", lock_keys(name))
            yield
        finally:
            await conn.close()  # frees the lock

    async def close(self) -> None:
        async with self._lock:
            await self._drop()

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is None or self._conn.closed:
            self._held.clear()  # a new session holds nothing
            conn = await psycopg.AsyncConnection.connect(
                self._conninfo, autocommit=True, connect_timeout=self._timeout
            )
            # A hub's machine lost without closing its connection (power, network): the server
            # notices within ~15 s instead of the system's two hours, and frees the locks.
            await conn.execute(
                "SET tcp_keepalives_idle = 5; SET tcp_keepalives_interval = 2;"
                " SET tcp_keepalives_count = 4"
            )
            self._conn = conn
            for name in sorted(self._wanted):
                cursor = await conn.execute("SELECT pg_try_advisory_lock(%s, %s)", lock_keys(name))
                row = await cursor.fetchone()
                if row and row[0]:
                    self._held.add(name)
                else:  # lost for good: a job asks again each period, as any other hub does
                    self._wanted.discard(name)
                    log.warning("lock %s: another hub took it while this hub's lock connection "
                                "was down", name)  # fmt: skip
        return self._conn

    async def _drop(self) -> None:
        conn, self._conn = self._conn, None
        self._held.clear()
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                await conn.close()


class PgNotices:
    """``LISTEN`` on a connection of its own; ``wait`` returns at the first notice."""

    def __init__(self, conninfo: str, connect_timeout: int) -> None:
        self._conninfo = conninfo
        self._timeout = connect_timeout
        self._conn: psycopg.AsyncConnection[Any] | None = None
        self._channels: set[str] = set()
        self._lock = asyncio.Lock()

    async def wait(self, channel: str, seconds: float) -> bool:
        async with self._lock:  # one waiter at a time per connection
            try:
                conn = await self._connection()
                if channel not in self._channels:
                    await conn.execute(f'LISTEN "fleetwatch_{channel}"')
                    self._channels.add(channel)
                async for _ in conn.notifies(timeout=seconds, stop_after=1):
                    return True
                return False
            except psycopg.Error as exc:
                log.debug("listening for %s failed: %s", channel, exc)
                await self.close_unlocked()
                await asyncio.sleep(seconds)
                return False

    async def _connection(self) -> psycopg.AsyncConnection[Any]:
        if self._conn is None or self._conn.closed:
            self._channels.clear()
            self._conn = await psycopg.AsyncConnection.connect(
                self._conninfo, autocommit=True, connect_timeout=self._timeout
            )
        return self._conn

    async def close_unlocked(self) -> None:
        conn, self._conn = self._conn, None
        if conn is not None:
            with contextlib.suppress(psycopg.Error):
                await conn.close()
