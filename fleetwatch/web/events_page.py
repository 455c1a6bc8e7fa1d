"""Events across the fleet (``/events``): thresholds, STALE, pushed alerts, check changes.

The newest events from the store (what ``events.list`` serves), narrowed by system, tag,
severity and whether they are ongoing; clearing finished ones posts to ``/api/v1/events.clear``,
acknowledging an ongoing one (which stops its notifications' repeats) to ``events.ack``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from fleetwatch.api.events import EVENT_STATES
from fleetwatch.auth.permissions import VIEW_EVENTS
from fleetwatch.store import Store
from fleetwatch.web.pages import Pages, page

__all__ = ["EventsPage"]

MAX_EVENTS = 500
MAX_FILTER_CHARS = 100
PHASES = ("ongoing", "finished")


class EventsPage:
    def __init__(self, pages: Pages, store: Store) -> None:
        self.pages = pages
        self.store = store

    @page
    async def index(self, request: Request) -> Response:
        viewer = await self.pages.require(request, VIEW_EVENTS)
        params = request.query_params
        system = params.get("system", "")[:MAX_FILTER_CHARS]
        tag = params.get("tag", "")[:MAX_FILTER_CHARS]
        state = params.get("state", "") if params.get("state", "") in EVENT_STATES else ""
        phase = params.get("phase", "") if params.get("phase", "") in PHASES else ""
        fleet = await self.store.fleet_overview()
        names = {row.id: row.name for row in fleet}
        tagged = {row.id for row in fleet if tag in row.tags} if tag else None
        chosen = next((row.id for row in fleet if row.name == system), None) if system else None
        found = await self.store.list_events(system_id=chosen, open_only=phase == "ongoing",
                                             limit=MAX_EVENTS)  # fmt: skip
        rows: list[dict[str, Any]] = []
        for event in found:
            if system and chosen is None:
                break  # an unknown system has no events
            if tagged is not None and event.system_id not in tagged:
                continue
            if (state and event.state != state) or (phase == "finished" and event.end < 0):
                continue
            rows.append({"event": event, "system": names.get(event.system_id, "checks")})
        acks = await self.store.event_acks([r["event"].id for r in rows if r["event"].end < 0])
        for r in rows:
            r["ack"] = acks.get(r["event"].id)
        return self.pages.render(
            request, "events.html", viewer, rows=rows, states=EVENT_STATES, phases=PHASES,
            systems=sorted(names.values()), tags=sorted({t for r in fleet for t in r.tags}),
            filters={"system": system, "tag": tag, "state": state, "phase": phase},
            limit=MAX_EVENTS,
        )  # fmt: skip
