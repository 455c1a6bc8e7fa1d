"""OP5's read side of passive checks: object status and the filter endpoints.

* ``GET /api/status/host/<host>`` (``host-view-all``) and
  ``GET /api/status/service/<host>;<service>`` (``service-view-all``): one object, 404 if unknown;
* ``GET /api/filter/query?query=[services] state != 0&columns=...&sort=...&limit=...&offset=...``
  (a JSON array) and ``GET /api/filter/count?query=...`` (``{"count": N}``), needing the view
  permission of the filter's table.

Columns are Livestatus' names (``description``, ``host.name``, ``state``, ``plugin_output``,
``perf_data``, ``current_attempt``...); ``host.name`` comes back nested, ``{"host": {"name":
...}}``, as OP5 returns it. Errors are OP5's shape.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Sequence
from typing import Any

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from fleetwatch.api.errors import ApiError, BadRequest, Forbidden, NotFound, ServiceUnavailable
from fleetwatch.api.guard import Guard
from fleetwatch.api.op5_filter import Filter, FilterError, parse_filter
from fleetwatch.api.query_slots import QuerySlots, SlotTimeout
from fleetwatch.api.shapes import handler, op5_error
from fleetwatch.auth.authenticator import Principal
from fleetwatch.auth.permissions import HOST_VIEW_ALL, SERVICE_VIEW_ALL
from fleetwatch.store import Store, StoreError
from fleetwatch.store.checks import CheckObject, ObjectKind

__all__ = ["filter_app", "object_row", "status_app"]

_COMMON = (
    "state", "state_type", "plugin_output", "long_plugin_output", "perf_data",
    "has_been_checked", "last_check", "last_state_change", "last_hard_state",
    "last_hard_state_change", "current_attempt", "max_check_attempts", "acknowledged",
    "scheduled_downtime_depth", "check_freshness", "freshness_threshold", "is_stale", "notes",
    "accept_passive_checks", "stale_state",
)  # fmt: skip
COLUMNS = {
    "hosts": frozenset(("name", *_COMMON)),
    "services": frozenset(("description", "host.name", *_COMMON)),
}
VIEW = {"hosts": HOST_VIEW_ALL, "services": SERVICE_VIEW_ALL}
# Filter columns the store can compare in SQL: (its column, whether a number). The times are
# left to Python: the API shows them as whole seconds.
_NUMBERS = {
    "state": "state", "current_attempt": "attempt", "max_check_attempts": "max_check_attempts",
    "last_hard_state": "last_hard_state", "acknowledged": "acknowledged",
    "scheduled_downtime_depth": "downtime_depth", "check_freshness": "check_freshness",
    "freshness_threshold": "freshness_threshold", "is_stale": "is_stale",
    "has_been_checked": "has_been_checked", "accept_passive_checks": "passive_checks_enabled",
    "stale_state": "stale_state",
}  # fmt: skip
_TEXTS = {"plugin_output": "output", "long_plugin_output": "long_output",
          "perf_data": "perfdata", "notes": "notes"}  # fmt: skip
_PUSHABLE_COMMON = {
    **{name: (column, True) for name, column in _NUMBERS.items()},
    **{name: (column, False) for name, column in _TEXTS.items()},
}
PUSHABLE = {
    "hosts": {**_PUSHABLE_COMMON, "name": ("host_name", False)},
    "services": {**_PUSHABLE_COMMON, "host.name": ("host_name", False),
                 "description": ("service_description", False)},
}  # fmt: skip
MAX_LIMIT = 10_000


def object_row(obj: CheckObject) -> dict[str, Any]:
    """The object's columns, flat (``host.name`` as one key)."""
    row: dict[str, Any] = (
        {"name": obj.host_name}
        if obj.is_host
        else {"description": obj.service_description, "host.name": obj.host_name}
    )
    row.update(
        state=obj.state,
        state_type=1 if obj.state_type == "HARD" else 0,
        plugin_output=obj.output,
        long_plugin_output=obj.long_output,
        perf_data=obj.perfdata,
        has_been_checked=int(obj.has_been_checked),
        last_check=int(obj.last_check or 0),
        last_state_change=int(obj.last_state_change),
        last_hard_state=obj.last_hard_state,
        last_hard_state_change=int(obj.last_hard_state_change),
        current_attempt=obj.attempt,
        max_check_attempts=obj.max_check_attempts,
        acknowledged=int(obj.acknowledged),
        scheduled_downtime_depth=obj.downtime_depth,
        check_freshness=int(obj.check_freshness),
        freshness_threshold=obj.freshness_threshold,
        is_stale=int(obj.is_stale),
        notes=obj.notes,
        accept_passive_checks=int(obj.passive_checks_enabled),
        stale_state=obj.stale_state,
    )
    return row


def nested(row: dict[str, Any], columns: list[str] | None = None) -> dict[str, Any]:
    """``{"host.name": x}`` as ``{"host": {"name": x}}``, keeping only ``columns`` if given."""
    out: dict[str, Any] = {}
    for key in columns if columns is not None else list(row):
        head, dot, tail = key.partition(".")
        if dot:
            out.setdefault(head, {})[tail] = row[key]
        else:
            out[key] = row[key]
    return out


class Status:
    def __init__(
        self,
        guard: Guard,
        store: Store,
        time_limit: float = 10.0,
        slots: QuerySlots | None = None,
    ) -> None:
        self.guard = guard
        self.store = store
        self.time_limit = time_limit
        self.slots = slots or QuerySlots(1)

    async def host(self, request: Request) -> Response:
        await self.guard.require(request, HOST_VIEW_ALL)
        name = request.path_params["host"]
        obj = await self.store.get_check_object(name)
        if obj is None:
            raise NotFound(f"host {name!r} does not exist")
        return JSONResponse(nested(object_row(obj)))

    async def service(self, request: Request) -> Response:
        await self.guard.require(request, SERVICE_VIEW_ALL)
        host, sep, service = request.path_params["service"].partition(";")
        if not sep or not host or not service:
            raise BadRequest("a service is named <host>;<service>")
        obj = await self.store.get_check_object(host, service)
        if obj is None:
            raise NotFound(f"service {service!r} on host {host!r} does not exist")
        return JSONResponse(nested(object_row(obj)))

    async def _parsed(self, request: Request) -> tuple[Filter, Principal]:
        principal = await self.guard.principal(request)
        query = request.query_params.get("query")
        if not query:
            raise BadRequest("query is required, e.g. query=[services] state != 0")
        try:
            parsed = parse_filter(query, COLUMNS, PUSHABLE)
        except FilterError as exc:
            raise BadRequest(f"filter not understood: {exc}") from None
        if not principal.can(VIEW[parsed.table]):
            raise Forbidden(VIEW[parsed.table])
        return parsed, principal

    async def _rows(self, parsed: Filter, principal: Principal) -> list[dict[str, Any]]:
        """Every matching row: SQL narrows (or decides), the predicate decides the rest."""
        objects = await self.store.select_check_objects(_KIND[parsed.table], parsed.where)
        if parsed.exact:
            return [object_row(obj) for obj in objects]
        # Up to 100 comparisons per object, over every object SQL could not rule out: done in
        # a thread, under the query time limit, so the event loop keeps answering others.
        deadline = time.monotonic() + self.time_limit
        try:
            async with self.slots.hold(principal, self.time_limit):
                found = await asyncio.to_thread(_matching, objects, parsed, deadline)
        except SlotTimeout:
            found = None
        if found is None:
            raise ServiceUnavailable(f"the filter ran past {self.time_limit:g} s; narrow it")
        return found

    async def query(self, request: Request) -> Response:
        parsed, principal = await self._parsed(request)
        table = parsed.table
        params = request.query_params
        columns = _columns(params.get("columns"), table)
        order = _sort(params.get("sort"), table)
        offset = _count(params.get("offset"), "offset", 0)
        limit = _count(params.get("limit"), "limit", MAX_LIMIT)
        if parsed.exact and all(key in _NUMBERS for key, _ in order):
            # All in SQL: only the page asked for is read.
            sql_order = [(_NUMBERS[key], descending) for key, descending in order]
            objects = await self.store.select_check_objects(
                _KIND[table], parsed.where, order=sql_order, limit=limit, offset=offset
            )
            return JSONResponse([nested(object_row(obj), columns) for obj in objects])
        rows = await self._rows(parsed, principal)
        for key, descending in reversed(order):
            rows.sort(key=_by(key), reverse=descending)
        return JSONResponse([nested(row, columns) for row in rows[offset : offset + limit]])

    async def count(self, request: Request) -> Response:
        parsed, principal = await self._parsed(request)
        if parsed.exact:
            return JSONResponse(
                {"count": await self.store.count_check_objects(_KIND[parsed.table], parsed.where)}
            )
        return JSONResponse({"count": len(await self._rows(parsed, principal))})


_KIND: dict[str, ObjectKind] = {"hosts": "host", "services": "service"}
_DEADLINE_EVERY = 256  # objects between two looks at the clock


def _matching(
    objects: Sequence[CheckObject], parsed: Filter, deadline: float
) -> list[dict[str, Any]] | None:
    """The rows of ``objects`` the predicate keeps; None once ``deadline`` has passed."""
    rows: list[dict[str, Any]] = []
    for index, obj in enumerate(objects):
        if index % _DEADLINE_EVERY == 0 and time.monotonic() > deadline:
            return None
        row = object_row(obj)
        if parsed.predicate(row):
            rows.append(row)
    return rows


def _by(key: str) -> Callable[[dict[str, Any]], tuple[bool, Any]]:
    return lambda row: (row[key] is None, row[key])


def _columns(text: str | None, table: str) -> list[str] | None:
    if not text:
        return None
    columns = [c.strip() for c in text.split(",") if c.strip()]
    for column in columns:
        if column not in COLUMNS[table]:
            raise BadRequest(f"unknown column {column!r} of [{table}]")
    return columns


def _sort(text: str | None, table: str) -> list[tuple[str, bool]]:
    keys: list[tuple[str, bool]] = []
    for part in (text or "").split(","):
        words = part.split()
        if not words:
            continue
        if len(words) > 2 or (len(words) == 2 and words[1].lower() not in ("asc", "desc")):
            raise BadRequest(f"sort is 'column [asc|desc]', not {part.strip()!r}")
        # `name` sorts by the object's own name on both tables (a service's is its
        # description), so one sort= serves [hosts] and [services] alike.
        column = "description" if table == "services" and words[0] == "name" else words[0]
        if column not in COLUMNS[table]:
            raise BadRequest(f"cannot sort by unknown column {words[0]!r} of [{table}]")
        keys.append((column, len(words) == 2 and words[1].lower() == "desc"))
    return keys


def _count(text: str | None, name: str, default: int) -> int:
    if text is None:
        return default
    if not text.isdigit():
        raise BadRequest(f"{name} must be a non-negative integer")
    return min(int(text), MAX_LIMIT)


def _family(routes: list[Route]) -> Starlette:
    render = handler(op5_error)
    return Starlette(routes=routes, exception_handlers={ApiError: render, StoreError: render})


def status_app(guard: Guard, store: Store) -> Starlette:
    """``/api/status``, to be mounted at ``{prefix}/api/status``."""
    api = Status(guard, store)
    return _family([
        Route("/host/{host}", api.host, methods=["GET"]),
        Route("/service/{service}", api.service, methods=["GET"]),
    ])  # fmt: skip


def filter_app(
    guard: Guard, store: Store, time_limit: float = 10.0, slots: QuerySlots | None = None
) -> Starlette:
    """``/api/filter``, to be mounted at ``{prefix}/api/filter``; a filter's Python part stops
    after ``time_limit`` seconds (503)."""
    api = Status(guard, store, time_limit, slots)
    return _family([
        Route("/query", api.query, methods=["GET"]),
        Route("/count", api.count, methods=["GET"]),
    ])  # fmt: skip
