"""Notifications (``/notifications``): channels, rules, test sends and recent deliveries.

What the page lists is what ``/api/v1/notifications.*`` lists: channels with their URLs masked
(a webhook's signing secret is shown once, by the browser, from the answer to
``notifications.channels.create``), rules with every key, and the newest deliveries with their
attempts. Every change is a form posting to those routes, which check ``manage-notifications``
themselves; a viewer with only ``view-events`` sees the deliveries and no action.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from fleetwatch.api.notifications import delivery_json
from fleetwatch.auth.permissions import MANAGE_NOTIFICATIONS, VIEW_EVENTS
from fleetwatch.engine.notify.events import KINDS, SEVERITIES
from fleetwatch.engine.notify.manage import NotifyAdmin
from fleetwatch.store.notify import AttemptRecord
from fleetwatch.web.pages import Pages, page

__all__ = ["NotificationsPage"]

RECENT_DELIVERIES = 50


class NotificationsPage:
    def __init__(self, pages: Pages, notify: NotifyAdmin) -> None:
        self.pages = pages
        self.notify = notify

    @page
    async def index(self, request: Request) -> Response:
        viewer = await self.pages.require(request, MANAGE_NOTIFICATIONS, VIEW_EVENTS)
        manage = viewer.can(MANAGE_NOTIFICATIONS)
        channels = await self.notify.list_channels() if manage else []
        rules = await self.notify.list_rules() if manage else []
        return self.pages.render(
            request, "notifications.html", viewer, channels=channels, rules=rules,
            deliveries=await self._deliveries() if viewer.can(VIEW_EVENTS) else [],
            kinds=KINDS, severities=SEVERITIES, recent=RECENT_DELIVERIES, now=self.pages.clock(),
        )  # fmt: skip

    async def _deliveries(self) -> list[dict[str, Any]]:
        store = self.notify.store
        rows, _ = await store.list_deliveries(count=RECENT_DELIVERIES, offset=0)
        by_delivery: dict[int, list[AttemptRecord]] = {}
        for attempt in await store.delivery_attempts([d.id for d in rows]):
            by_delivery.setdefault(attempt.delivery_id, []).append(attempt)
        return [delivery_json(d, by_delivery.get(d.id, [])) for d in rows]
