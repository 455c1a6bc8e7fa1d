"""The Rocket.Chat-style API (``/api/v1``): login, logout, me, and the admin calls.

``POST /api/v1/login`` takes ``{"username"|"user", "password"}`` as JSON or a form and answers
``userId`` + ``authToken``, which later requests send as ``X-User-Id`` + ``X-Auth-Token``.
The admin calls (``users.*``, ``groups.*``, ``systems.*``, ``audit.list``) do what the CLI does,
behind ``manage-users`` / ``manage-systems``; errors take Rocket.Chat's shape (``shapes.py``).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from fleetwatch.api.errors import ApiError, BadRequest, Forbidden, NotFound, Unauthorized
from fleetwatch.api.events import EventsAPI
from fleetwatch.api.fleet import Fleet
from fleetwatch.api.guard import Guard, actor, address_of, checked, list_field, text_field
from fleetwatch.api.hub_statistics import HubStatistics
from fleetwatch.api.lists import Lists
from fleetwatch.api.shapes import handler, rocketchat_error
from fleetwatch.api.tags import TagsAPI
from fleetwatch.auth.admin import Admin
from fleetwatch.auth.authenticator import Principal
from fleetwatch.auth.permissions import (
    HOST_VIEW_ALL,
    MANAGE_SYSTEMS,
    MANAGE_USERS,
    SERVICE_VIEW_ALL,
    VIEW_EVENTS,
    VIEW_STATISTICS,
)
from fleetwatch.store import StoreError, UserRecord
from fleetwatch.store.listing import COLLECTIONS, iso_utc

__all__ = ["LOGIN_FAILED", "v1_app"]

# The list endpoints (``lists.py``) and the permission each needs.
LIST_PERMISSIONS = {
    "statistics": VIEW_STATISTICS,
    "systems": VIEW_STATISTICS,
    "hosts": HOST_VIEW_ALL,
    "services": SERVICE_VIEW_ALL,
    "checkresults": SERVICE_VIEW_ALL,
    "events": VIEW_EVENTS,
}

LOGIN_FAILED = {"success": False, "status": "error", "error": "Unauthorized",
                "message": "Unauthorized"}  # fmt: skip


def ok(**data: Any) -> JSONResponse:
    return JSONResponse({**data, "success": True})


def user_json(user: UserRecord, permissions: frozenset[str] | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "_id": str(user.id), "username": user.name, "name": user.name, "active": True,
        "roles": list(user.groups), "createdAt": iso_utc(user.created_at),
    }  # fmt: skip
    if permissions is not None:
        body["permissions"] = sorted(permissions)
    return body


class V1:
    def __init__(self, guard: Guard, admin: Admin) -> None:
        self.guard = guard
        self.admin = admin
        self.store = admin.store

    # -- sessions

    async def login(self, request: Request) -> Response:
        fields = await self.guard.fields(request)
        name = fields.get("username", fields.get("user"))
        password = fields.get("password")
        if not isinstance(name, str) or not isinstance(password, str) or not name or not password:
            return JSONResponse(LOGIN_FAILED, status_code=401)
        try:
            session, token = await self.guard.auth.login(name, password, address_of(request))
        except Unauthorized:
            return JSONResponse(LOGIN_FAILED, status_code=401)
        assert session.user_id is not None
        me = await self._me(session)
        data = {"userId": str(session.user_id), "authToken": token, "me": me}
        return JSONResponse({"status": "success", "data": data, "success": True})

    async def logout(self, request: Request) -> Response:
        principal = await self.guard.principal(request)
        await self.guard.auth.logout(principal, address_of(request))
        data = {"message": "You've been logged out!"}
        return JSONResponse({"status": "success", "data": data, "success": True})

    async def me(self, request: Request) -> Response:
        principal = await self.guard.principal(request)
        if principal.kind == "system":
            name = principal.name
            return ok(_id=f"system:{principal.system_id}", username=name, name=name,
                      active=True, roles=[], permissions=[], type="system")  # fmt: skip
        return ok(**await self._me(principal))

    async def _me(self, principal: Principal) -> dict[str, Any]:
        user = await self.store.get_user(principal.name)
        if user is None:
            raise Unauthorized("the user no longer exists")
        return user_json(user, principal.permissions)

    # -- users

    async def users_list(self, request: Request) -> Response:
        await self.guard.require(request, MANAGE_USERS)
        users = [user_json(user) for user in await self.store.list_users()]
        return ok(users=users, count=len(users), offset=0, total=len(users))

    async def users_create(self, request: Request) -> Response:
        by = await self.guard.require(request, MANAGE_USERS)
        fields = await self.guard.fields(request)
        name = text_field(fields, "username", "user")
        password = text_field(fields, "password")
        groups = list_field(fields, "groups") or list_field(fields, "roles")
        user = await checked(self.admin.add_user(actor(by, request), name, password, groups))
        return ok(user=user_json(user))

    async def users_delete(self, request: Request) -> Response:
        by = await self.guard.require(request, MANAGE_USERS)
        name = text_field(await self.guard.fields(request), "username", "user")
        await self.admin.remove_user(actor(by, request), name)
        return ok()

    async def users_set_password(self, request: Request) -> Response:
        by = await self.guard.principal(request)
        fields = await self.guard.fields(request)
        name = text_field(fields, "username", "user", required=False) or by.name
        self._self_or(by, name, MANAGE_USERS)
        password = text_field(fields, "password", "newPassword")
        if not by.can(MANAGE_USERS):
            # One's own password: a stolen session token alone must not be enough.
            current = text_field(fields, "currentPassword")
            if await self.guard.auth.check_password(name, current) is None:
                self.guard.auth.limiter.fail(f"user:{name}", f"addr:{address_of(request)}")
                raise BadRequest("currentPassword is not the current password")
        await checked(self.admin.set_password(actor(by, request), name, password))
        return ok()

    async def users_token(self, request: Request) -> Response:
        by = await self.guard.principal(request)
        fields = await self.guard.fields(request)
        name = text_field(fields, "username", "user", required=False) or by.name
        self._self_or(by, name, MANAGE_USERS)
        label = text_field(fields, "tokenName", required=False) or None
        token = await checked(self.admin.user_token(actor(by, request), name, label))
        return ok(token=token)

    def _self_or(self, by: Principal, name: str, permission: str) -> None:
        if not (by.kind == "user" and by.name == name) and not by.can(permission):
            raise Forbidden(permission)

    # -- groups

    async def groups_list(self, request: Request) -> Response:
        await self.guard.require(request, MANAGE_USERS)
        groups = [
            {"name": g.name, "builtin": g.builtin, "permissions": list(g.permissions),
             "members": list(g.members)}
            for g in await self.store.list_groups()
        ]  # fmt: skip
        return ok(groups=groups, count=len(groups), offset=0, total=len(groups))

    async def groups_create(self, request: Request) -> Response:
        by = await self.guard.require(request, MANAGE_USERS)
        fields = await self.guard.fields(request)
        name = text_field(fields, "name")
        permissions = list_field(fields, "permissions")
        group = await checked(self.admin.add_group(actor(by, request), name, permissions))
        return ok(group={"name": group.name, "permissions": list(group.permissions)})

    async def groups_change(self, request: Request) -> Response:
        by = await self.guard.require(request, MANAGE_USERS)
        fields = await self.guard.fields(request)
        group = text_field(fields, "name")
        who = actor(by, request)
        match request.path_params["change"]:
            case "grant":
                changed = await checked(
                    self.admin.grant(who, group, text_field(fields, "permission"))
                )
            case "revoke":
                changed = await checked(
                    self.admin.revoke(who, group, text_field(fields, "permission"))
                )
            case "addUser":
                changed = await self.admin.add_member(who, text_field(fields, "username"), group)
            case "removeUser":
                changed = await self.admin.remove_member(who, text_field(fields, "username"), group)
            case _:
                raise NotFound(f"unknown method groups.{request.path_params['change']}")
        return ok(changed=changed)

    # -- systems

    async def systems_create(self, request: Request) -> Response:
        by = await self.guard.require(request, MANAGE_SYSTEMS)
        name = text_field(await self.guard.fields(request), "name")
        system, token = await checked(self.admin.add_system(actor(by, request), name))
        return ok(system={"_id": str(system.id), "name": system.name}, token=token)

    async def systems_delete(self, request: Request) -> Response:
        by = await self.guard.require(request, MANAGE_SYSTEMS)
        name = text_field(await self.guard.fields(request), "name")
        await self.admin.remove_system(actor(by, request), name)
        return ok()

    async def systems_add_token(self, request: Request) -> Response:
        by = await self.guard.require(request, MANAGE_SYSTEMS)
        fields = await self.guard.fields(request)
        name, label = text_field(fields, "name"), text_field(fields, "tokenName")
        token = await checked(self.admin.system_token(actor(by, request), name, label))
        return ok(token=token)

    async def systems_revoke_token(self, request: Request) -> Response:
        by = await self.guard.require(request, MANAGE_SYSTEMS)
        fields = await self.guard.fields(request)
        name, label = text_field(fields, "name"), text_field(fields, "tokenName")
        removed = await self.admin.revoke_system_tokens(actor(by, request), name, [label])
        if not removed:
            raise NotFound(f"system {name!r} has no token named {label!r}")
        return ok()

    # -- audit

    async def audit_list(self, request: Request) -> Response:
        await self.guard.require(request, MANAGE_USERS)
        entries = [
            {"at": e.at, "actor": e.actor, "address": e.address, "action": e.action,
             "target": e.target, "detail": e.detail}
            for e in await self.store.list_audit(limit=500)
        ]  # fmt: skip
        return ok(entries=entries, count=len(entries))


def v1_app(
    guard: Guard,
    admin: Admin,
    fleet: Fleet | None = None,
    lists: Lists | None = None,
    hub_statistics: HubStatistics | None = None,
    events: EventsAPI | None = None,
    tags: TagsAPI | None = None,
    extra_routes: Sequence[BaseRoute] = (),
) -> Starlette:
    """The ``/api/v1`` family, to be mounted at ``{prefix}/api/v1``; ``extra_routes`` are
    other modules' calls in the family (``notifications.*``, ``events.stream``)."""
    api = V1(guard, admin)
    get, post = ["GET"], ["POST"]
    routes: list[BaseRoute] = [
        Route("/login", api.login, methods=post),
        Route("/logout", api.logout, methods=post),
        Route("/me", api.me, methods=get),
        Route("/users.list", api.users_list, methods=get),
        Route("/users.create", api.users_create, methods=post),
        Route("/users.delete", api.users_delete, methods=post),
        Route("/users.setPassword", api.users_set_password, methods=post),
        Route("/users.generatePersonalAccessToken", api.users_token, methods=post),
        Route("/groups.list", api.groups_list, methods=get),
        Route("/groups.create", api.groups_create, methods=post),
        Route("/groups.{change}", api.groups_change, methods=post),
        Route("/systems.create", api.systems_create, methods=post),
        Route("/systems.delete", api.systems_delete, methods=post),
        Route("/systems.addToken", api.systems_add_token, methods=post),
        Route("/systems.revokeToken", api.systems_revoke_token, methods=post),
        Route("/audit.list", api.audit_list, methods=get),
    ]
    if fleet is not None:
        routes.append(Route("/systems", fleet.systems, methods=get))
    if lists is not None:
        for name, permission in LIST_PERMISSIONS.items():
            handle = lists.handler(COLLECTIONS[name], permission)
            routes.append(Route(f"/{name}.list", handle, methods=get))
    if hub_statistics is not None:
        routes.append(Route("/statistics", hub_statistics.handle, methods=get))
    if events is not None:
        routes.append(Route("/events.clear", events.clear, methods=post))
        routes.append(Route("/events.ack", events.ack, methods=post))
    if tags is not None:
        routes += [
            Route("/systems.tag", tags.system, methods=post),
            Route("/hosts.tag", tags.host, methods=post),
            Route("/services.tag", tags.service, methods=post),
        ]
    routes += extra_routes
    render = handler(rocketchat_error)
    return Starlette(routes=routes, exception_handlers={ApiError: render, StoreError: render})
