"""``POST /api/v1/events.clear``: delete finished events across the fleet (``clear-events``).

``system`` (a name) and ``state`` (``WARNING``, ``CRITICAL``...) narrow it; ongoing events are
never cleared (they end when their cause does). Answers ``{"cleared": n, "success": true}``.

``POST /api/v1/events.ack`` (``api-command``): acknowledge an ongoing threshold, STALE or
pushed-alert event (``id``, ``comment``), which stops the repeats and escalation of its
notifications; hosts and services are acknowledged with ``ACKNOWLEDGE_*_PROBLEM``.
"""

from __future__ import annotations

import time

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from fleetwatch.api.errors import BadRequest, NotFound
from fleetwatch.api.guard import Guard, actor, text_field
from fleetwatch.auth.permissions import API_COMMAND, CLEAR_EVENTS
from fleetwatch.store import Store
from fleetwatch.store.notify import EventAck

__all__ = ["EVENT_STATES", "EventsAPI"]

MAX_EVENT_ID = 2**63 - 1
MAX_COMMENT = 1000

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

    async def ack(self, request: Request) -> Response:
        by = await self.guard.require(request, API_COMMAND)
        fields = await self.guard.fields(request)
        event_id = fields.get("id")
        if isinstance(event_id, str) and event_id.isdigit():
            event_id = int(event_id)
        if not isinstance(event_id, int) or isinstance(event_id, bool):
            raise BadRequest("id must be an event's id, a whole number")
        if not 0 < event_id <= MAX_EVENT_ID:
            raise BadRequest(f"id must be from 1 to {MAX_EVENT_ID}")
        comment = text_field(fields, "comment", required=False)
        if len(comment) > MAX_COMMENT:
            raise BadRequest(f"comment may be at most {MAX_COMMENT} characters")
        who = actor(by, request)
        ack = EventAck(event_id, who.name, comment, time.time())
        if await self.store.acknowledge_event(ack):
            await self.store.add_audit(who.name, who.address, "events.ack", str(event_id),
                                       comment)  # fmt: skip
            return JSONResponse({"acknowledged": True, "success": True})
        if event_id in await self.store.event_acks([event_id]):
            return JSONResponse({"acknowledged": False, "success": True})  # done already
        raise NotFound(f"no ongoing event {event_id} to acknowledge here (hosts and "
                       "services: ACKNOWLEDGE_HOST_PROBLEM / ACKNOWLEDGE_SVC_PROBLEM)")  # fmt: skip
