"""Object tags for notification rules, read from the store where the console and CLI set them."""

from __future__ import annotations

from fleetwatch.engine.notify.events import NotifyEvent
from fleetwatch.store.base import Store
from fleetwatch.store.errors import NotFound

__all__ = ["StoredTags"]


class StoredTags:
    """A system event carries its system's tags; a check event its host's and, for a service,
    the service's own too, so a rule for the ``prod`` host tag also covers that host's services.
    An object removed since the event carries none."""

    def __init__(self, store: Store) -> None:
        self.store = store

    async def tags_of(self, event: NotifyEvent) -> frozenset[str]:
        if event.kind == "check":
            found = await self._check_object(event.host)
            if event.service:
                found |= await self._check_object(event.host, event.service)
            return found
        if not event.system:
            return frozenset()
        try:
            return frozenset(await self.store.system_tags(event.system))
        except NotFound:
            return frozenset()

    async def _check_object(self, host: str, service: str = "") -> frozenset[str]:
        try:
            return frozenset(await self.store.check_object_tags(host, service))
        except NotFound:
            return frozenset()
