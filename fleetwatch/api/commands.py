"""OP5's command API: ``POST /api/command/<COMMAND>`` with a JSON or form body.

``curl -u 'status_update:mysecret' -H 'content-type: application/json' -d '{"host_name": ...}'
.../api/command/PROCESS_SERVICE_CHECK_RESULT`` is answered exactly
``{"result":"Successfully submitted PROCESS_SERVICE_CHECK_RESULT"}`` once the result is
committed. Every command needs ``api-command``, and ``service-edit-all`` (service commands) or
``host-edit-all`` (host commands). Errors are OP5's ``{"error": ..., "full_error": ...}``: 400
for a bad field or an unknown host or service (OP5's own status script reads 400 as "not
found"), 401, 403 naming the permission, 404 for an unknown command.
"""

from __future__ import annotations

import math
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import orjson
from starlette.applications import Starlette
from starlette.routing import Route

from fleetwatch.api import json_body
from fleetwatch.api.asgi import Receive, Scope, Send, header, send_body, send_json
from fleetwatch.api.errors import ApiError, BadRequest, Forbidden, NotFound, ServiceUnavailable
from fleetwatch.api.guard import Guard, from_store_error
from fleetwatch.api.query_slots import QuerySlots, SlotTimeout
from fleetwatch.api.shapes import handler, op5_error
from fleetwatch.auth.authenticator import Principal
from fleetwatch.auth.permissions import API_COMMAND, HOST_EDIT_ALL, SERVICE_EDIT_ALL
from fleetwatch.engine.checks import PARSE_INLINE_CHARS, CheckService
from fleetwatch.engine.checkstate import parse_status_code
from fleetwatch.store import StoreError
from fleetwatch.store.checks import MAX_WINDOW_SECONDS

__all__ = ["COMMANDS", "Commands", "command_app"]

Fields = dict[str, Any]
_LINE_CONTINUATION = re.compile(rb"\\\r?\n")
# Numbers are checked against what the store can hold before they reach it: ids are 64-bit
# integers, times end with the year 9999 (what dates can show).
MAX_ID = 2**63 - 1
MAX_EPOCH_SECONDS = 253_402_300_799.0
Run = Callable[["Commands", Fields, Principal], Awaitable[None]]
# A result whose output is longer than this is a "large" one (its perfdata is parsed in a
# thread); a client's large results are applied one at a time, each waiting this long at most.
LARGE_OUTPUT_CHARS = PARSE_INLINE_CHARS
LARGE_RESULT_WAIT_SECONDS = 30.0


@dataclass(frozen=True, slots=True)
class Command:
    host: bool  # a host command (host-edit-all) or a service command (service-edit-all)
    run: Run

    @property
    def permission(self) -> str:
        return HOST_EDIT_ALL if self.host else SERVICE_EDIT_ALL


class Commands:
    """The command endpoint, a plain ASGI callable: the hot path of passive results.

    It skips Starlette's request and response objects; ``Hub.app`` also calls ``handle``
    directly for ``POST {prefix}/api/command/<COMMAND>``, past the routing and middleware
    layers, as it does for ``/api/4`` (the route in ``command_app`` stays for the rest).
    """

    def __init__(
        self, guard: Guard, checks: CheckService, large_results: QuerySlots | None = None
    ) -> None:
        self.guard = guard
        self.checks = checks
        # One long result (perfdata parsed in a thread, hundreds of points written) at a time
        # per client: ten at once, each with 1,000 labels, had ten threads contending with the
        # event loop for the interpreter, and every other client's request waited (p99 of
        # /api/4/status ~70 ms on PostgreSQL). Short results, the usual ones, do not queue.
        self.large_results = large_results or QuerySlots(1)
        self.large_result_wait = LARGE_RESULT_WAIT_SECONDS

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.handle(scope, receive, send, scope["path_params"]["command"])

    async def handle(self, scope: Scope, receive: Receive, send: Send, name: str) -> None:
        try:
            await self._run(scope, receive, name)
        except (ApiError, StoreError, ValueError) as exc:
            status, body, headers = op5_error(from_store_error(exc))
            await send_json(send, status, body, headers=headers)
            return
        await send_body(send, 200, b'{"result":"Successfully submitted ' + name.encode() + b'"}')

    async def _run(self, scope: Scope, receive: Receive, name: str) -> None:
        principal = await self.guard.scope_principal(scope)
        if not principal.can(API_COMMAND):
            raise Forbidden(API_COMMAND)
        command = COMMANDS.get(name)
        if command is None:
            raise NotFound(f"unknown command {name!r}; known: {', '.join(sorted(COMMANDS))}")
        if not principal.can(command.permission):
            raise Forbidden(command.permission)
        await command.run(self, await self._fields(scope, receive), principal)

    async def _fields(self, scope: Scope, receive: Receive) -> Fields:
        """A JSON object or a form, like ``Guard.fields``, and one courtesy for the OP5 guide's
        curl command: its JSON is split over lines inside single quotes, so the shell passes
        each line-ending backslash on. A backslash before a line break cannot be valid JSON
        (a JSON string holds no raw line break), so dropping those pairs changes no valid body.
        """
        body = await self.guard.read_body(scope, receive)
        raw_kind = header(scope, b"content-type") or b""
        kind = raw_kind.split(b";")[0].strip().lower()
        if kind == b"application/x-www-form-urlencoded":
            pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
            json_body.check_texts(pairs)
            return dict(pairs)
        if not body.strip():
            return {}
        try:
            value = orjson.loads(body)
        except orjson.JSONDecodeError:
            try:
                value = orjson.loads(_LINE_CONTINUATION.sub(b"", body))
            except orjson.JSONDecodeError:
                raise BadRequest("the body is not valid JSON") from None
        json_body.check_json(value, body)
        if not isinstance(value, dict):
            raise BadRequest("the body must be a JSON object")
        return value

    async def service_result(self, fields: Fields, principal: Principal) -> None:
        host, service = _text(fields, "host_name"), _text(fields, "service_description")
        code = parse_status_code(_required(fields, "status_code"), host=False)
        ttl = _seconds(fields, "ttl")
        await self._result(principal, host, service, code, _output(fields), ttl)

    async def host_result(self, fields: Fields, principal: Principal) -> None:
        host = _text(fields, "host_name")
        code = parse_status_code(_required(fields, "status_code"), host=True)
        ttl = _seconds(fields, "ttl")
        await self._result(principal, host, None, code, _output(fields), ttl)

    async def _result(
        self,
        principal: Principal,
        host: str,
        service: str | None,
        code: int,
        output: str,
        ttl: float | None,
    ) -> None:
        if len(output) <= LARGE_OUTPUT_CHARS:
            await self.checks.process_result(host, service, code, output, ttl=ttl)
            return
        try:
            async with self.large_results.hold(principal, self.large_result_wait):
                await self.checks.process_result(host, service, code, output, ttl=ttl)
        except SlotTimeout:
            raise ServiceUnavailable(
                f"this client's earlier long results (over {LARGE_OUTPUT_CHARS} characters of"
                f" plugin_output) are still being stored; send fewer at once",
                1.0,
            ) from None

    async def acknowledge(self, fields: Fields, principal: Principal, *, host: bool) -> None:
        obj = await self.checks.find(*_object(fields, host=host))
        await self.checks.acknowledge(
            obj,
            principal.name,
            _comment(fields),
            sticky=_flag(fields, "sticky"),
            notify=_flag(fields, "notify"),
            persistent=_flag(fields, "persistent"),
        )

    async def remove_acknowledgement(self, fields: Fields, _: Principal, *, host: bool) -> None:
        obj = await self.checks.find(*_object(fields, host=host))
        await self.checks.remove_acknowledgement(obj)

    async def schedule_downtime(self, fields: Fields, principal: Principal, *, host: bool) -> None:
        obj = await self.checks.find(*_object(fields, host=host))
        start, end = _time(fields, "start_time"), _time(fields, "end_time")
        if end <= start:
            raise BadRequest("end_time must be after start_time")
        fixed = _flag(fields, "fixed", default=True)
        duration = _number(fields, "duration")
        if duration is not None and not 0 <= duration <= MAX_WINDOW_SECONDS:
            raise BadRequest(f"duration must be from 0 to {MAX_WINDOW_SECONDS:.0f} seconds")
        if not fixed and not duration:
            raise BadRequest("duration is required for a flexible downtime (fixed false)")
        await self.checks.schedule_downtime(obj, principal.name, _comment(fields),
                                            start_time=start, end_time=end, fixed=fixed,
                                            duration=duration or end - start)  # fmt: skip

    async def delete_downtime(self, fields: Fields, _: Principal, *, host: bool) -> None:
        downtime_id = _integer(fields, "downtime_id")
        await self.checks.delete_downtime(downtime_id, host=host)


def _bound(method: Callable[..., Awaitable[None]], host: bool) -> Run:
    async def run(api: Commands, fields: Fields, principal: Principal) -> None:
        await method(api, fields, principal, host=host)

    return run


async def _service_result(api: Commands, fields: Fields, principal: Principal) -> None:
    await api.service_result(fields, principal)


async def _host_result(api: Commands, fields: Fields, principal: Principal) -> None:
    await api.host_result(fields, principal)


COMMANDS: dict[str, Command] = {
    "PROCESS_SERVICE_CHECK_RESULT": Command(False, _service_result),
    "PROCESS_HOST_CHECK_RESULT": Command(True, _host_result),
    "ACKNOWLEDGE_SVC_PROBLEM": Command(False, _bound(Commands.acknowledge, False)),
    "ACKNOWLEDGE_HOST_PROBLEM": Command(True, _bound(Commands.acknowledge, True)),
    "REMOVE_SVC_ACKNOWLEDGEMENT": Command(False, _bound(Commands.remove_acknowledgement, False)),
    "REMOVE_HOST_ACKNOWLEDGEMENT": Command(True, _bound(Commands.remove_acknowledgement, True)),
    "SCHEDULE_SVC_DOWNTIME": Command(False, _bound(Commands.schedule_downtime, False)),
    "SCHEDULE_HOST_DOWNTIME": Command(True, _bound(Commands.schedule_downtime, True)),
    "DEL_SVC_DOWNTIME": Command(False, _bound(Commands.delete_downtime, False)),
    "DEL_HOST_DOWNTIME": Command(True, _bound(Commands.delete_downtime, True)),
}


# -- fields


def _required(fields: Fields, name: str) -> Any:
    if name not in fields:
        raise BadRequest(f"{name} is required")
    return fields[name]


def _text(fields: Fields, name: str) -> str:
    value = _required(fields, name)
    if not isinstance(value, str) or not value:
        raise BadRequest(f"{name} must be a non-empty string")
    return value


def _object(fields: Fields, *, host: bool) -> tuple[str, str | None]:
    return _text(fields, "host_name"), None if host else _text(fields, "service_description")


def _output(fields: Fields) -> str:
    value = fields.get("plugin_output", "")
    if not isinstance(value, str):
        raise BadRequest("plugin_output must be a string")
    return value


def _comment(fields: Fields) -> str:
    value = fields.get("comment", "")
    if not isinstance(value, str):
        raise BadRequest("comment must be a string")
    return value


def _number(fields: Fields, name: str) -> float | None:
    if name not in fields:
        return None
    value = fields[name]
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            raise BadRequest(f"{name} must be a number, not {fields[name]!r}") from None
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        raise BadRequest(f"{name} must be a number, not {fields[name]!r}")
    return float(value)


def _seconds(fields: Fields, name: str) -> float | None:
    value = _number(fields, name)
    if value is not None and not 0 < value <= MAX_WINDOW_SECONDS:
        raise BadRequest(f"{name} must be a positive number of seconds, at most "
                         f"{MAX_WINDOW_SECONDS:.0f}")  # fmt: skip
    return value


def _time(fields: Fields, name: str) -> float:
    value = _number(fields, name)
    if value is None:
        raise BadRequest(f"{name} is required (seconds since the epoch)")
    if not 0 <= value <= MAX_EPOCH_SECONDS:
        raise BadRequest(f"{name} must be seconds since the epoch, at most {MAX_EPOCH_SECONDS:.0f}")
    return value


def _integer(fields: Fields, name: str) -> int:
    value = _number(fields, name)
    if value is None:
        raise BadRequest(f"{name} is required")
    if value != int(value) or not 1 <= value <= MAX_ID:
        raise BadRequest(f"{name} must be a positive integer of at most {MAX_ID}")
    return int(value)


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _flag(fields: Fields, name: str, *, default: bool = False) -> bool:
    value = fields.get(name, default)
    if isinstance(value, bool):
        return value
    if isinstance(value, int) and value in (0, 1):
        return bool(value)
    if isinstance(value, str) and value.strip().lower() in _TRUE | _FALSE:
        return value.strip().lower() in _TRUE
    raise BadRequest(f"{name} must be true or false (or 1 or 0), not {value!r}")


def command_app(api: Commands) -> Starlette:
    """The OP5 command API, to be mounted at ``{prefix}/api/command``."""
    routes = [Route("/{command}", api, methods=["POST"])]
    render = handler(op5_error)
    return Starlette(
        routes=routes,
        exception_handlers={ApiError: render, StoreError: render, ValueError: render},
    )
