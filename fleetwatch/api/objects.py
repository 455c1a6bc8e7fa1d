"""Hosts and services over HTTP, in the shape of OP5's configuration API (``/api/config``).

* ``GET /api/config/host`` (``host-view-all``), ``POST /api/config/host`` with ``host_name`` and
  optionally ``freshness_threshold`` (seconds, turns ``check_freshness`` on), ``notes``
  (``host-edit-all``), ``DELETE /api/config/host/<host>`` (with its services);
* ``GET /api/config/service`` (``service-view-all``), ``POST /api/config/service`` with
  ``host_name``, ``service_description`` and optionally ``freshness_threshold``,
  ``max_check_attempts``, ``stale_state``, ``stale_output``, ``notes`` (``service-edit-all``;
  the host is created when it is new), ``DELETE /api/config/service/<host>;<service>``.

Unlike OP5 there is no separate "save" step: a change is live once answered. Errors are OP5's
shape; a taken name is 409, an unknown one 404.
"""

from __future__ import annotations

import contextlib
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fleetwatch.api.errors import ApiError, BadRequest, NotFound
from fleetwatch.api.guard import Guard
from fleetwatch.api.shapes import handler, op5_error
from fleetwatch.api.status import nested, object_row
from fleetwatch.auth.permissions import (
    HOST_EDIT_ALL,
    HOST_VIEW_ALL,
    SERVICE_EDIT_ALL,
    SERVICE_VIEW_ALL,
)
from fleetwatch.engine.checkstate import parse_status_code
from fleetwatch.store import Conflict, Store, StoreError
from fleetwatch.store.checks import MAX_CHECK_ATTEMPTS, MAX_WINDOW_SECONDS

__all__ = ["objects_app"]

Fields = dict[str, Any]


def _text(fields: Fields, name: str, *, required: bool = True) -> str:
    value = fields.get(name, None if required else "")
    if value is None:
        raise BadRequest(f"{name} is required")
    if not isinstance(value, str) or (required and not value):
        raise BadRequest(
            f"{name} must be a non-empty string" if required else f"{name} must be text"
        )
    return value


def _positive(fields: Fields, name: str, kind: type, maximum: float) -> Any:
    """A positive number up to ``maximum``, checked here so that no value out of a column's
    range reaches the store (JSON's 1e30 arrives as a float that ``int()`` makes exact)."""
    value = fields.get(name)
    if value is None:
        return None
    if isinstance(value, str) and len(value) <= 32:
        with contextlib.suppress(ValueError):
            value = kind(value)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= maximum:
        raise BadRequest(f"{name} must be a positive number of at most {maximum:.0f}")
    if kind is int and value != int(value):
        raise BadRequest(f"{name} must be a positive integer")
    return kind(value)


class Objects:
    def __init__(self, guard: Guard, store: Store) -> None:
        self.guard = guard
        self.store = store

    async def list_hosts(self, request: Request) -> Response:
        await self.guard.require(request, HOST_VIEW_ALL)
        found = await self.store.list_check_objects("host")
        return JSONResponse([nested(object_row(obj)) for obj in found])

    async def list_services(self, request: Request) -> Response:
        await self.guard.require(request, SERVICE_VIEW_ALL)
        found = await self.store.list_check_objects("service")
        return JSONResponse([nested(object_row(obj)) for obj in found])

    async def add_host(self, request: Request) -> Response:
        await self.guard.require(request, HOST_EDIT_ALL)
        fields = await self.guard.fields(request)
        obj = await self.store.add_check_object(
            "host",
            _text(fields, "host_name"),
            freshness_threshold=_positive(fields, "freshness_threshold", float, MAX_WINDOW_SECONDS),
            notes=_text(fields, "notes", required=False),
        )
        return JSONResponse(nested(object_row(obj)), status_code=201)

    async def add_service(self, request: Request) -> Response:
        await self.guard.require(request, SERVICE_EDIT_ALL)
        fields = await self.guard.fields(request)
        host, description = _text(fields, "host_name"), _text(fields, "service_description")
        stale = fields.get("stale_state")
        stale_state = None if stale is None else parse_status_code(stale, host=False)
        threshold = _positive(fields, "freshness_threshold", float, MAX_WINDOW_SECONDS)
        attempts = _positive(fields, "max_check_attempts", int, MAX_CHECK_ATTEMPTS) or 1
        if await self.store.get_check_object(host) is None:
            with contextlib.suppress(Conflict):
                await self.store.add_check_object("host", host)
        obj = await self.store.add_check_object(
            "service",
            host,
            description,
            freshness_threshold=threshold,
            max_check_attempts=attempts,
            stale_state=stale_state,
            stale_output=_text(fields, "stale_output", required=False),
            notes=_text(fields, "notes", required=False),
        )
        return JSONResponse(nested(object_row(obj)), status_code=201)

    async def remove_host(self, request: Request) -> Response:
        await self.guard.require(request, HOST_EDIT_ALL)
        name = request.path_params["host"]
        if not await self.store.remove_check_object(name):
            raise NotFound(f"host {name!r} does not exist")
        return JSONResponse({"result": f"removed host {name}"})

    async def remove_service(self, request: Request) -> Response:
        await self.guard.require(request, SERVICE_EDIT_ALL)
        host, sep, service = request.path_params["service"].partition(";")
        if not sep or not host or not service:
            raise BadRequest("a service is named <host>;<service>")
        if not await self.store.remove_check_object(host, service):
            raise NotFound(f"service {service!r} on host {host!r} does not exist")
        return JSONResponse({"result": f"removed service {host};{service}"})


def objects_app(guard: Guard, store: Store) -> Starlette:
    """``/api/config`` for hosts and services, to be mounted at ``{prefix}/api/config``."""
    api = Objects(guard, store)
    routes = [
        Route("/host", api.list_hosts, methods=["GET"]),
        Route("/host", api.add_host, methods=["POST"]),
        Route("/host/{host}", api.remove_host, methods=["DELETE"]),
        Route("/service", api.list_services, methods=["GET"]),
        Route("/service", api.add_service, methods=["POST"]),
        Route("/service/{service}", api.remove_service, methods=["DELETE"]),
    ]
    render = handler(op5_error)
    return Starlette(
        routes=routes,
        exception_handlers={ApiError: render, StoreError: render, ValueError: render},
    )
