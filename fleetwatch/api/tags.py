"""Tags through the API: ``POST /api/v1/systems.tag``, ``hosts.tag`` and ``services.tag``.

Each takes the object (``name``; ``host_name``; ``host_name`` + ``service_description``) and
``add`` and/or ``remove`` (a tag or a list of tags), and answers the object's tags after:
``{"tags": ["prod", "web"], "success": true}``. Systems need ``manage-systems``, hosts
``host-edit-all``, services ``service-edit-all``.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from fleetwatch.api.errors import BadRequest
from fleetwatch.api.guard import Guard, actor, checked, from_store_error, list_field, text_field
from fleetwatch.auth.authenticator import Principal
from fleetwatch.auth.permissions import HOST_EDIT_ALL, MANAGE_SYSTEMS, SERVICE_EDIT_ALL
from fleetwatch.store import Store, StoreError
from fleetwatch.store.fleet import MAX_TAGS

__all__ = ["TagsAPI"]


def _changes(fields: dict[str, Any]) -> tuple[list[str], list[str]]:
    add, remove = list_field(fields, "add"), list_field(fields, "remove")
    if not add and not remove:
        raise BadRequest("add or remove is required: a tag or a list of tags")
    if len(add) > MAX_TAGS or len(remove) > MAX_TAGS:
        raise BadRequest(f"add and remove take at most {MAX_TAGS} tags each")
    return add, remove


class TagsAPI:
    def __init__(self, guard: Guard, store: Store) -> None:
        self.guard = guard
        self.store = store

    async def system(self, request: Request) -> Response:
        by = await self.guard.require(request, MANAGE_SYSTEMS)
        fields = await self.guard.fields(request)
        name = text_field(fields, "name")
        add, remove = _changes(fields)
        tags = await self._apply(self.store.tag_system(name, add, remove))
        await self._audit(by, request, name, add, remove)
        return JSONResponse({"tags": tags, "success": True})

    async def host(self, request: Request) -> Response:
        return await self._check_object(request, service=False)

    async def service(self, request: Request) -> Response:
        return await self._check_object(request, service=True)

    async def _check_object(self, request: Request, *, service: bool) -> Response:
        by = await self.guard.require(request, SERVICE_EDIT_ALL if service else HOST_EDIT_ALL)
        fields = await self.guard.fields(request)
        host = text_field(fields, "host_name")
        description = text_field(fields, "service_description") if service else ""
        add, remove = _changes(fields)
        tags = await self._apply(self.store.tag_check_object(host, description, add, remove))
        await self._audit(by, request, f"{host};{description}" if service else host, add, remove)
        return JSONResponse({"tags": tags, "success": True})

    async def _apply(self, change: Any) -> list[str]:
        try:
            tags: list[str] = await checked(change)
        except StoreError as exc:
            raise from_store_error(exc) from None
        return tags

    async def _audit(
        self, by: Principal, request: Request, target: str, add: list[str], remove: list[str]
    ) -> None:
        who = actor(by, request)
        detail = " ".join([*(f"+{t}" for t in add), *(f"-{t}" for t in remove)])
        await self.store.add_audit(who.name, who.address, "tags", target, detail)
