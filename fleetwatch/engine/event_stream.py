"""The live event stream's source: every change of every event, in outbox order, to each
subscriber, resumable by id.

The outbox (migration 0007) numbers every change of every event in commit order, whichever hub
or process wrote it, so its ids are the stream's: a client that reconnects with
``Last-Event-ID`` gets what it missed from the store, then the live rows, never one twice.
One poller reads new rows for all subscribers; each subscriber has a bounded queue, and one
that falls behind loses its oldest rows (and is told how many) instead of slowing anyone.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator
from dataclasses import dataclass
from typing import Any

import orjson

from fleetwatch.engine.notify.events import read_event
from fleetwatch.store.base import Store
from fleetwatch.store.errors import StoreError
from fleetwatch.store.notify import OutboxRecord

__all__ = ["EventStreams", "Stream", "StreamItem", "TooManyStreams"]

log = logging.getLogger(__name__)


class TooManyStreams(Exception):
    """``max_streams`` are open already."""


@dataclass(frozen=True, slots=True)
class StreamItem:
    """One Server-Sent Event: ``id`` None for a notice (``dropped``)."""

    id: int | None
    event: str
    data: bytes


class _Subscriber:
    def __init__(self, size: int, expires: float) -> None:
        self.queue: asyncio.Queue[StreamItem] = asyncio.Queue(maxsize=size)
        self.dropped = 0
        # Every stream ends by max_stream_seconds; one whose reader never started (the client
        # left before the first byte) is dropped a minute after that.
        self.expires = expires

    def offer(self, item: StreamItem) -> None:
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(item)


class Stream:
    """One subscriber's items; ``aclose`` ends the subscription (started or not)."""

    def __init__(
        self, subscribers: set[_Subscriber], subscriber: _Subscriber,
        items: AsyncGenerator[StreamItem],
    ) -> None:  # fmt: skip
        self._subscribers = subscribers
        self._subscriber = subscriber
        self._items = items

    def __aiter__(self) -> Stream:
        return self

    async def __anext__(self) -> StreamItem:
        return await anext(self._items)

    async def aclose(self) -> None:
        self._subscribers.discard(self._subscriber)
        await self._items.aclose()


class EventStreams:
    def __init__(
        self,
        store: Store,
        *,
        checks_system: str,
        max_streams: int = 100,
        buffer: int = 1000,
        replay_max: int = 1000,
        poll_seconds: float = 0.5,
        max_stream_seconds: float = 3600.0,
    ) -> None:
        self.store = store
        self.max_stream_seconds = max_stream_seconds
        self.checks_system = checks_system
        self.max_streams = max_streams
        self.buffer = buffer
        self.replay_max = replay_max
        self.poll_seconds = poll_seconds
        self.last_id = 0
        self._subscribers: set[_Subscriber] = set()
        self._systems: dict[int, str] = {}

    async def start(self) -> None:
        self.last_id = await self.store.outbox_last_id()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                await self.poll()
            except StoreError as exc:
                log.debug("event stream: the store failed (%s); trying again", exc)
            # On PostgreSQL a new outbox row, whichever hub or process wrote it, wakes this at
            # once (LISTEN, migration 0012's trigger); poll_seconds is the fallback.
            notice = asyncio.ensure_future(self.store.wait_changes("outbox", self.poll_seconds))
            stopped = asyncio.ensure_future(stop.wait())
            try:
                await asyncio.wait({notice, stopped}, return_when=asyncio.FIRST_COMPLETED)
            finally:
                for waiter in (notice, stopped):
                    waiter.cancel()
                    with contextlib.suppress(asyncio.CancelledError, StoreError):
                        await waiter

    async def poll(self) -> None:
        """Read the rows committed since the last poll and hand them to every subscriber."""
        now = time.monotonic()
        self._subscribers -= {s for s in self._subscribers if s.expires < now}
        if not self._subscribers:
            # Nobody to hand them to: nothing is read (an idle hub's every poll was a query);
            # the first subscriber takes the place again.
            return
        while True:
            upto = self.last_id + 500
            rows = await self.store.outbox_after(self.last_id, upto=upto, limit=500)
            if not rows:
                return
            self.last_id = rows[-1].id
            if self._subscribers:
                items = [await self._item(row) for row in rows]
                for subscriber in list(self._subscribers):
                    for item in items:
                        subscriber.offer(item)
            if len(rows) < 500:
                return

    async def subscribe(self, last_event_id: int | None) -> Stream:
        """The items after ``last_event_id`` (or from now), then live ones, until closed."""
        if len(self._subscribers) >= self.max_streams:
            raise TooManyStreams(f"{self.max_streams} event streams are open")
        if not self._subscribers:  # nobody listened, so the place was not kept: take it now
            self.last_id = max(self.last_id, await self.store.outbox_last_id())
        expires = time.monotonic() + self.max_stream_seconds + 60
        subscriber = _Subscriber(self.buffer, expires)
        self._subscribers.add(subscriber)
        upto = self.last_id  # live items start after this: replay up to it, no more
        items = self._items(subscriber, last_event_id, upto)
        return Stream(self._subscribers, subscriber, items)

    async def _items(
        self, subscriber: _Subscriber, last_event_id: int | None, upto: int
    ) -> AsyncGenerator[StreamItem]:
        try:
            if last_event_id is not None and last_event_id < upto:
                rows = await self.store.outbox_after(
                    last_event_id, upto=upto, limit=self.replay_max
                )
                if rows and rows[-1].id < upto:
                    yield _notice("dropped", {"reason": "replay_max", "after": rows[-1].id})
                for row in rows:
                    yield await self._item(row)
            while True:
                item = await subscriber.queue.get()
                if subscriber.dropped:
                    yield _notice("dropped", {"count": subscriber.dropped})
                    subscriber.dropped = 0
                yield item
        finally:
            self._subscribers.discard(subscriber)

    @property
    def open_streams(self) -> int:
        return len(self._subscribers)

    async def _item(self, row: OutboxRecord) -> StreamItem:
        if row.system_id not in self._systems:
            self._systems = {s.id: s.name for s in await self.store.list_systems()}
        system = self._systems.get(row.system_id, f"system-{row.system_id}")
        event = read_event(row, system, checks_system=system == self.checks_system)
        body: dict[str, Any] = {
            "id": row.id, "event_id": row.event_id, "transition": row.transition,
            "kind": event.kind, "type": event.type, "severity": event.severity,
            "state": event.state, "previous_state": event.previous_state,
            "system": event.system, "host": event.host, "service": event.service,
            "object": event.object, "summary": event.summary, "began_at": event.began_at,
            "ended_at": event.ended_at,
        }  # fmt: skip
        return StreamItem(row.id, event.kind, orjson.dumps(body))


def _notice(kind: str, data: dict[str, Any]) -> StreamItem:
    return StreamItem(None, kind, orjson.dumps(data))
