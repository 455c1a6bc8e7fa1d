"""The hub's in-process event bus: ingestion publishes, streams and webhooks subscribe.

Publishing never waits: each subscriber has a bounded queue, and a subscriber that falls
behind loses its oldest events (and is told how many) rather than slowing ingestion down.
"""

from __future__ import annotations

import asyncio
from typing import Any

Event = dict[str, Any]


class Subscription:
    def __init__(self, bus: EventBus, size: int) -> None:
        self._bus = bus
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=size)
        self.dropped = 0

    async def get(self) -> Event:
        return await self.queue.get()

    def close(self) -> None:
        self._bus.subscribers.discard(self)

    def offer(self, event: Event) -> None:
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(event)


class EventBus:
    def __init__(self) -> None:
        self.subscribers: set[Subscription] = set()

    def subscribe(self, size: int = 1000) -> Subscription:
        subscription = Subscription(self, size)
        self.subscribers.add(subscription)
        return subscription

    def publish(self, event: Event) -> None:
        for subscription in list(self.subscribers):
            subscription.offer(event)


def new_statistics(
    system: str, system_id: int, document: dict[str, Any], stats: dict[str, Any]
) -> Event:
    """TrueCommand's ``servers/current_stats`` shape for one accepted snapshot."""
    mem = stats.get("mem") or {}
    return {
        "event": "new_statistics",
        "system": system,
        "system_id": system_id,
        "hostname": document.get("hostname"),
        "version": document.get("version"),
        "cpu_num": len(document.get("cpu") or []),
        "memory_bytes": mem.get("total"),
    }
