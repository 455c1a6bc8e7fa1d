"""The alert engine of one system, wired to the store: events survive a restart."""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from fleetwatch.engine.alerts import AlertEngine, Event
from fleetwatch.model.limits import Limits
from fleetwatch.store.base import Store
from fleetwatch.store.errors import StoreError

log = logging.getLogger(__name__)


class AlertService:
    """Evaluates a system's collections and saves each changed event as one store row."""

    def __init__(self, engine: AlertEngine, store: Store, system_id: int) -> None:
        self.engine = engine
        self.store = store
        self.system_id = system_id
        # Events changed since their last save; one drain task saves them in order, so an
        # event's first insert has returned its id before any update of it is written.
        self._dirty: dict[int, Event] = {}
        self._drain: asyncio.Task[None] | None = None

    async def restore(self) -> None:
        records = await self.store.list_events(
            system_id=self.system_id, limit=self.engine.max_events
        )
        self.engine.restore(records)

    def evaluate(
        self, stats: dict[str, Any], limits: dict[str, Limits], now: float
    ) -> list[dict[str, Any]]:
        """Run on the event loop after each collection; saving happens in the background."""
        self.observe(stats, limits, now)
        return self.engine.as_glances()

    def observe(self, stats: dict[str, Any], limits: dict[str, Limits], now: float) -> None:
        """``evaluate`` without building the Glances list, which a pushed system never shows."""
        for event in self.engine.evaluate(stats, limits, now):
            self._dirty[id(event)] = event
        if self._dirty and (self._drain is None or self._drain.done()):
            self._drain = asyncio.get_running_loop().create_task(self._save_dirty())

    async def _save_dirty(self) -> None:
        while self._dirty:
            _, event = self._dirty.popitem()
            try:
                record = event.record(self.system_id, self.engine.global_msg())
                event.id = await self.store.save_event(record)
            except StoreError as exc:
                # The event stays in memory and is saved again on its next change.
                log.warning("could not save event %s: %s", event.type, exc)

    async def clear(self, warning_only: bool) -> int:
        removed = self.engine.clear(warning_only)
        await self.flush()
        await self.store.delete_events(
            system_id=self.system_id, finished_only=True, state="WARNING" if warning_only else None
        )
        return len(removed)

    async def flush(self) -> None:
        """Wait for saves in flight (shutdown, tests)."""
        while self._drain is not None and not self._drain.done():
            await asyncio.shield(self._drain)


class SystemAlerts:
    """One alert engine per pushed system, created (and restored) on its first snapshot."""

    def __init__(self, store: Store, limits: dict[str, Limits]) -> None:
        self.store = store
        self.limits = limits
        self.services: dict[int, AlertService] = {}

    async def evaluate(self, system_id: int, stats: dict[str, Any], now: float) -> None:
        service = self.services.get(system_id)
        if service is None:
            service = AlertService(AlertEngine(), self.store, system_id)
            await service.restore()
            # Another request for the same system may have restored it meanwhile: keep one.
            service = self.services.setdefault(system_id, service)
        service.observe(stats, self.limits, now)

    async def flush(self) -> None:
        for service in self.services.values():
            await service.flush()
