"""The Glances-compatible REST API v4 (``/api/4/...``), served from the collector's cache.

A GET is a dictionary look-up and a write of bytes encoded once per refresh; the routing
below is plain string matching, so no request pays for a framework's validation.
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Mapping
from typing import Any, Protocol

import orjson
import psutil

from fleetwatch import __version__
from fleetwatch.api import glances_lookup as lookup
from fleetwatch.api.asgi import Receive, Scope, Send, accepts_gzip, send_body, send_json
from fleetwatch.api.errors import (
    ApiError,
    BadRequest,
    Forbidden,
    MethodNotAllowed,
    NotFound,
    Unauthorized,
)
from fleetwatch.api.history_range import parse_range
from fleetwatch.api.shapes import glances_error
from fleetwatch.auth.authenticator import Authenticator
from fleetwatch.auth.permissions import API_COMMAND, CLEAR_EVENTS, VIEW_STATISTICS
from fleetwatch.collect.live import GZIP_MIN_BYTES, PluginState, Published, dumps
from fleetwatch.collect.registry import PLUGIN_NAMES
from fleetwatch.model.history import History
from fleetwatch.model.limits import Limits
from fleetwatch.model.plugin import PluginSpec

READ = ("GET", "HEAD")
STATUS_BODY = orjson.dumps({"version": __version__})
PLUGINS_BODY = orjson.dumps(list(PLUGIN_NAMES))
GZIP_HEADERS = [(b"content-encoding", b"gzip"), (b"vary", b"accept-encoding")]


# The stored history of the hub's own machine over [since, until), and its resolution (0 raw).
HistoryOver = Callable[[float, float], Awaitable[tuple[Mapping[str, History], int]]]


class StatsSource(Protocol):
    """Where the stats come from: the live collector, or a pushed system's stored snapshots."""

    extended_pid: int | None

    @property
    def specs(self) -> Mapping[str, PluginSpec]: ...

    @property
    def limits(self) -> Mapping[str, Limits]: ...

    @property
    def history(self) -> Mapping[str, History]: ...

    async def current(self, wait_seconds: float = 10.0) -> Published: ...


class GlancesAPI:
    """ASGI app for the paths below ``/api/4`` (the mount strips that part)."""

    def __init__(
        self,
        live: StatsSource,
        settings: Callable[[], dict[str, dict[str, Any]]],
        args: Callable[[], dict[str, Any]],
        clear_events: Callable[[bool], Awaitable[int]] | None = None,
        *,
        auth: Authenticator | None = None,
        anonymous: frozenset[str] = frozenset({VIEW_STATISTICS}),
        plugins: list[str] | None = None,
        servers: Callable[[bytes], Awaitable[tuple[bytes, int]]] | None = None,
        history_over: HistoryOver | None = None,
    ) -> None:
        self.live = live
        self._plugins_body = PLUGINS_BODY if plugins is None else orjson.dumps(plugins)
        self._auth = auth
        self._anonymous = anonymous
        self._settings = settings
        self._args = args
        self.clear_events = clear_events
        self._servers = servers
        self._history_over = history_over
        self._limits_body = dumps(live.limits)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        method: str = scope["method"]
        path: str = scope["path"]
        head = method == "HEAD"
        try:
            if path != "/status" and self._auth is not None:
                await self._authorize(scope, method, path)
            await self._dispatch(scope, method, path, send, head)
        except ApiError as exc:
            status, body, headers = glances_error(exc)
            await send_json(send, status, body, headers=headers, head=head)

    async def _authorize(self, scope: Scope, method: str, path: str) -> None:
        """Without credentials, what ``anonymous`` allows; with them, the route's permission."""
        assert self._auth is not None
        client = scope.get("client")
        address = client[0] if client else "unknown"
        principal = await self._auth.resolve(scope["headers"], address)
        needed = permission_for(method, path)
        if needed in self._anonymous or (principal is not None and principal.can(needed)):
            return  # credentials never grant less than none: anonymous access stays
        if principal is None:
            raise Unauthorized("Authentication required")
        raise Forbidden(needed)

    async def _dispatch(self, scope: Scope, method: str, path: str, send: Send, head: bool) -> None:
        parts = path.split("/")[1:] if path.startswith("/") else path.split("/")
        first = parts[0] if parts else ""
        if first == "status" and len(parts) == 1:
            _only(method, READ)
            await send_body(send, 200, STATUS_BODY, head=head)
            return
        if first in ("processes", "events"):
            await self._actions(method, parts, send, head)
            return
        _only(method, READ)
        if first == "pluginslist" and len(parts) == 1:
            await send_body(send, 200, self._plugins_body, head=head)
        elif first == "serverslist" and len(parts) == 1:
            # A page of the fleet (count, offset, filters; count=0 for all), the total in a
            # header: Glances' browser reads a bare list.
            found = await self._servers(scope.get("query_string", b"")) if self._servers else None
            body, total = found if found is not None else (b"[]", 0)
            await send_body(send, 200, body, head=head,
                            headers=[(b"x-total-count", str(total).encode())])  # fmt: skip
        elif first == "all":
            await self._all(scope, parts, send, head)
        elif first in ("config", "args"):
            await send_json(send, 200, self._settings_view(parts), head=head)
        elif first in self.live.specs:
            await self._plugin(scope, parts, send, head)
        elif first == "":
            raise NotFound("Unknown route: see /api/4/pluginslist for the plugins")
        else:
            raise NotFound(f"Unknown plugin '{first}': see /api/4/pluginslist")

    async def _all(self, scope: Scope, parts: list[str], send: Send, head: bool) -> None:
        published = await self.live.current()
        if len(parts) == 1:
            if accepts_gzip(scope) and len(published.all_body) >= GZIP_MIN_BYTES:
                body = published.all_gzipped()
                await send_body(send, 200, body, headers=GZIP_HEADERS, head=head)
            else:
                await send_body(send, 200, published.all_body, head=head)
        elif parts[1:] == ["limits"]:
            await send_body(send, 200, self._limits_body, head=head)
        elif parts[1:] == ["views"]:
            views = {name: s.views for name, s in published.states.items()}
            await send_json(send, 200, views, head=head)
        else:
            raise NotFound(f"Unknown route: /all/{'/'.join(parts[1:])}")

    async def _plugin(self, scope: Scope, parts: list[str], send: Send, head: bool) -> None:
        published = await self.live.current()
        state = published.states[parts[0]]
        if len(parts) == 1:
            await self._send_state(scope, state, send, head)
            return
        histories, headers = self.live.history, None
        if "history" in parts and self._history_over is not None:
            # since/until/range mean here what they mean on /systems/<name>/api/4: the stored
            # history over that span (a bogus value is a 400), the resolution named.
            span = parse_range(scope.get("query_string", b""), time.time())
            if span is not None:
                histories, seconds = await self._history_over(*span)
                headers = [(b"x-fleetwatch-resolution", str(seconds or "raw").encode())]
        value = self._plugin_route(state, parts, histories.get(parts[0]) or History(1))
        await send_json(send, 200, value, head=head, headers=headers)

    def _plugin_route(self, state: PluginState, parts: list[str], history: History) -> Any:
        name, rest = parts[0], parts[1:]
        match rest:
            case ["limits"]:
                return self.live.limits.get(name, {})
            case ["views"]:
                return state.views
            case ["history"]:
                return history.as_json()
            case ["history", count]:
                return history.as_json(last=lookup.positive_int(count, "history size"))
            case ["top", count]:
                return lookup.top(state, lookup.positive_int(count, "top count"))
            case [item]:
                return lookup.field_values(state, item)
            case [item, "views"]:
                return lookup.item_views(state, item)
            case [item, "history"]:
                return lookup.item_history(state, history, item, 0)
            case [item, "history", count]:
                last = lookup.positive_int(count, "history size")
                return lookup.item_history(state, history, item, last)
            case [item, "description" | "unit" as attribute]:
                return lookup.describe(state, item, attribute)
            case [item, "value", *value] if value:
                return lookup.items_with_value(state, item, "/".join(value))
            case [item, key]:
                return lookup.field_of_key(state, item, key)
        raise NotFound(f"Unknown route: /{'/'.join(parts)}")

    async def _send_state(self, scope: Scope, state: PluginState, send: Send, head: bool) -> None:
        if accepts_gzip(scope) and len(state.body) >= GZIP_MIN_BYTES:
            await send_body(send, 200, state.gzipped(), headers=GZIP_HEADERS, head=head)
        else:
            await send_body(send, 200, state.body, head=head)

    async def _actions(self, method: str, parts: list[str], send: Send, head: bool) -> None:
        match parts:
            case ["processes", "extended"]:
                _only(method, READ)
                await send_json(send, 200, await self._extended(), head=head)
            case ["processes", "extended", "disable"]:
                _only(method, ("POST",))
                self.live.extended_pid = None
                await send_json(send, 200, True)
            case ["processes", "extended", pid]:
                _only(method, ("POST",))
                number = lookup.positive_int(pid, "pid")
                if not psutil.pid_exists(number):
                    raise NotFound(f"Unknown pid {number}")
                self.live.extended_pid = number
                await send_json(send, 200, True)
            case ["processes", pid]:
                _only(method, READ)
                await send_json(send, 200, await self._process(pid), head=head)
            case ["events", "clear", "all" | "warning" as which]:
                _only(method, ("POST",))
                clear = self.clear_events
                cleared = await clear(which == "warning") if clear is not None else 0
                await send_json(send, 200, {"cleared": cleared})
            case _:
                raise NotFound(f"Unknown route: /{'/'.join(parts)}")

    async def _process(self, pid_text: str) -> dict[str, Any]:
        pid = lookup.positive_int(pid_text, "pid")
        for proc in await self._processes():
            if proc.get("pid") == pid:
                return dict(proc)
        raise NotFound(f"Unknown pid {pid}")

    async def _extended(self) -> dict[str, Any]:
        pid = self.live.extended_pid
        if pid is None:
            return {}
        for proc in await self._processes():
            if proc.get("pid") == pid:
                return dict(proc)
        return {}

    async def _processes(self) -> list[dict[str, Any]]:
        """The process list; empty where there is none (a pushed system that sends none)."""
        published = await self.live.current()
        state = published.states.get("processlist")
        stats = state.stats if state is not None else None
        return [p for p in stats if isinstance(p, dict)] if isinstance(stats, list) else []

    def _settings_view(self, parts: list[str]) -> Any:
        data: dict[str, Any] = self._settings() if parts[0] == "config" else self._args()
        for depth, part in enumerate(parts[1:], start=1):
            if not isinstance(data, dict) or part not in data:
                where = "/".join(parts[:depth])
                raise NotFound(
                    f"Unknown {'section' if depth == 1 else 'item'} '{part}' in /{where}"
                )
            data = data[part]
        return data


def permission_for(method: str, path: str) -> str:
    """The permission a request below ``/api/4`` needs (``/status`` needs none)."""
    if method in READ:
        return VIEW_STATISTICS
    return CLEAR_EVENTS if path.startswith("/events/") else API_COMMAND


def _only(method: str, allowed: tuple[str, ...]) -> None:
    if method not in allowed:
        raise MethodNotAllowed(f"Method {method} not allowed here", allowed)


__all__ = ["BadRequest", "GlancesAPI"]
