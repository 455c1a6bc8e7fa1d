"""The passive checks board (``/checks``): hosts and services, their state and badges.

The objects are the store's (what ``/api/status`` lists); the actions are forms that post to
the OP5 command API (``/api/command/ACKNOWLEDGE_SVC_PROBLEM`` and the rest), so the hub checks
``api-command`` and ``service-edit-all`` / ``host-edit-all`` exactly as for any script.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from fleetwatch.auth.permissions import (
    API_COMMAND,
    HOST_EDIT_ALL,
    HOST_VIEW_ALL,
    SERVICE_EDIT_ALL,
    SERVICE_VIEW_ALL,
)
from fleetwatch.engine.checkstate import state_name
from fleetwatch.store import Store
from fleetwatch.store.checks import CheckObject, DowntimeRecord
from fleetwatch.web.pages import Pages, Viewer, page

__all__ = ["ChecksPage"]

MAX_FILTER_CHARS = 100
MAX_OBJECTS = 2000
STATES = ("OK", "WARNING", "CRITICAL", "UNKNOWN", "UP", "DOWN", "UNREACHABLE", "PENDING")


def word_of(obj: CheckObject) -> str:
    return state_name(obj.state, host=obj.is_host) if obj.has_been_checked else "PENDING"


def anchor(obj: CheckObject) -> str:
    return "obj-" + "".join(c if c.isalnum() else "-" for c in obj.display_name)


class ChecksPage:
    def __init__(self, pages: Pages, store: Store) -> None:
        self.pages = pages
        self.store = store

    @page
    async def board(self, request: Request) -> Response:
        viewer = await self.pages.require(request, SERVICE_VIEW_ALL, HOST_VIEW_ALL)
        params = request.query_params
        text = params.get("q", "")[:MAX_FILTER_CHARS].strip().lower()
        state = params.get("state", "") if params.get("state", "") in STATES else ""
        tag = params.get("tag", "")[:MAX_FILTER_CHARS]
        tags = await self.store.all_check_object_tags()
        downtimes: dict[int, list[DowntimeRecord]] = {}
        for downtime in await self.store.pending_downtimes():
            downtimes.setdefault(downtime.object_id, []).append(downtime)
        rows = []
        for obj in await self._objects(viewer):
            own = tags.get((obj.host_name, obj.service_description), [])
            word = word_of(obj)
            if state and word != state:
                continue
            if tag and tag not in own:
                continue
            if text and not any(text in v.lower() for v in (obj.display_name, obj.output, *own)):
                continue
            rows.append(self._row(obj, word, own, viewer, downtimes.get(obj.id, [])))
        return self.pages.render(
            request, "checks.html", viewer, rows=rows[:MAX_OBJECTS], shown=len(rows),
            tags=sorted({t for found in tags.values() for t in found}), states=STATES,
            filters={"q": params.get("q", "")[:MAX_FILTER_CHARS], "state": state, "tag": tag},
        )  # fmt: skip

    async def _objects(self, viewer: Viewer) -> list[CheckObject]:
        found: list[CheckObject] = []
        if viewer.can(HOST_VIEW_ALL):
            found += await self.store.list_check_objects("host")
        if viewer.can(SERVICE_VIEW_ALL):
            found += await self.store.list_check_objects("service")
        found.sort(key=lambda o: (o.host_name, o.service_description))
        return found

    def _row(
        self,
        obj: CheckObject,
        word: str,
        tags: list[str],
        viewer: Viewer,
        downtimes: list[DowntimeRecord],
    ) -> dict[str, Any]:
        """One object's row; ``downtimes`` are its downtimes under way or to come, each with
        its delete button."""
        edit = HOST_EDIT_ALL if obj.is_host else SERVICE_EDIT_ALL
        return {
            "obj": obj, "word": word, "tags": tags, "anchor": anchor(obj),
            "can_edit": viewer.can(API_COMMAND) and viewer.can(edit),
            "kind": "HOST" if obj.is_host else "SVC", "downtimes": downtimes,
        }  # fmt: skip
