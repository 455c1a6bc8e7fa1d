"""``POST /api/v1/events.clear``: delete finished events across the fleet (``clear-events``).

``system`` (a name) and ``state`` (``WARNING``, ``CRITICAL``...) narrow it; ongoing events are
never cleared (they end when their cause does). Answers ``{"cleared": n, "success": true}``.
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from fleetwatch.api.errors import BadRequest, NotFound
from fleetwatch.api.guard import Guard, actor, text_field
from fleetwatch.auth.permissions import CLEAR_EVENTS
from fleetwatch.store import Store

__all__ = ["EVENT_STATES", "EventsAPI"]

EVENT_STATES = ("OK", "CAREFUL", "WARNING", "CRITICAL", "UNKNOWN", "UP", "DOWN", "UNREACHABLE")


class EventsAPI:
    def __init__(self, guard: Guard, store: Store) -> None:
        self.guard = guard
        self.store = store

    async def clear(self, request: Request) -> Response:
        by = await self.guard.require(request, CLEAR_EVENTS)
        fields = await self.guard.fields(request)
        name = text_field(fields, "system", required=False)
        state = text_field(fields, "state", required=False) or None
        if state is not None and state not in EVENT_STATES:
            raise BadRequest(f"state must be one of {', '.join(EVENT_STATES)}")
        system_id = None
        if name:
            system = await self.store.get_system(name)
            if system is None:
                raise NotFound(f"no system named {name!r}")
            system_id = system.id
        cleared = await self.store.delete_events(
            system_id=system_id, finished_only=True, state=state
        )
        who = actor(by, request)
        await self.store.add_audit(who.name, who.address, "events.clear", name or "*",
                                   f"{cleared} finished {state or 'any'}")  # fmt: skip
        return JSONResponse({"cleared": cleared, "success": True})
