"""TrueCommand's system-token calls (``/api/servers/...``), for its clients and scripts.

``list_tokens``, ``add_tokens`` and ``remove_tokens`` take ``tvid`` (the system's name or id)
and ``name`` or ``names`` (a string or a list), as JSON, a form or the query string. Deviation
from TrueCommand: tokens are stored hashed, so ``list_tokens`` shows each token's name and a
short prefix, never the secret; ``add_tokens`` returns the new secrets, once.
"""

from __future__ import annotations

from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fleetwatch.api.errors import ApiError, BadRequest
from fleetwatch.api.fleet import Fleet
from fleetwatch.api.guard import Guard, actor, checked, list_field
from fleetwatch.api.shapes import handler, truecommand_error
from fleetwatch.auth.admin import Admin
from fleetwatch.auth.permissions import MANAGE_SYSTEMS
from fleetwatch.store import StoreError, SystemRecord

__all__ = ["servers_app"]


class Servers:
    def __init__(self, guard: Guard, admin: Admin) -> None:
        self.guard = guard
        self.admin = admin

    async def _args(self, request: Request) -> dict[str, Any]:
        fields = dict(request.query_params)
        if request.method != "GET":
            fields.update(await self.guard.fields(request))
        return fields

    async def _system(self, fields: dict[str, Any]) -> SystemRecord:
        tvid = fields.get("tvid")
        if isinstance(tvid, int) and not isinstance(tvid, bool):
            tvid = str(tvid)
        if not isinstance(tvid, str) or not tvid:
            raise BadRequest("tvid is required: the system's name or id")
        for system in await self.admin.store.list_systems():
            if tvid in (system.name, str(system.id)):
                return system
        return await self.admin.system(tvid)  # NotFound, worded

    def _names(self, fields: dict[str, Any]) -> list[str]:
        names = list_field(fields, "names") + list_field(fields, "name")
        if not names:
            raise BadRequest("name or names is required")
        return names

    async def list_tokens(self, request: Request) -> Response:
        await self.guard.require(request, MANAGE_SYSTEMS)
        system = await self._system(await self._args(request))
        tokens = await self.admin.store.list_system_tokens(system.id)
        listed = [{"name": t.name, "prefix": t.prefix, "created": t.created_at} for t in tokens]
        return JSONResponse({"tvid": system.name, "tokens": listed})

    async def add_tokens(self, request: Request) -> Response:
        by = await self.guard.require(request, MANAGE_SYSTEMS)
        fields = await self._args(request)
        system = await self._system(fields)
        who = actor(by, request)
        added = {}
        for name in dict.fromkeys(self._names(fields)):
            added[name] = await checked(self.admin.system_token(who, system.name, name))
        return JSONResponse({"tvid": system.name, "tokens": added})

    async def remove_tokens(self, request: Request) -> Response:
        by = await self.guard.require(request, MANAGE_SYSTEMS)
        fields = await self._args(request)
        system = await self._system(fields)
        names = list(dict.fromkeys(self._names(fields)))
        removed = await self.admin.revoke_system_tokens(actor(by, request), system.name, names)
        return JSONResponse({"tvid": system.name, "removed": removed, "result": "success"})


def servers_app(guard: Guard, admin: Admin, fleet: Fleet | None = None) -> Starlette:
    """The ``/api/servers`` token calls, to be mounted at ``{prefix}/api/servers``."""
    api = Servers(guard, admin)
    methods = ["GET", "POST", "PUT"]
    routes = [
        Route("/list_tokens", api.list_tokens, methods=methods),
        Route("/add_tokens", api.add_tokens, methods=["POST", "PUT"]),
        Route("/remove_tokens", api.remove_tokens, methods=["POST", "PUT"]),
    ]
    if fleet is not None:
        routes.append(Route("/list", fleet.servers_list, methods=methods))
    render = handler(truecommand_error)
    return Starlette(routes=routes, exception_handlers={ApiError: render, StoreError: render})
