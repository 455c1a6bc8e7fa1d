"""``/systems/<name>/api/4/...``: the Glances API over a pushed system's stored snapshots.

The same dispatcher as ``/api/4`` serves it; only the source differs: the system's latest
snapshot (its Glances-shaped form) instead of the live collector, and history read from the
store when a history route asks for it: the latest snapshots, or, with ``?since=``, ``?until=``
or ``?range=``, snapshots or rollups at a resolution that fits the range (``history_range.py``),
named in an ``X-Fleetwatch-Resolution`` header (``raw``, ``60``, ``3600``). It needs
``view-statistics``: anonymous reads stay limited to the hub's own ``/api/4`` on loopback.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote

from fleetwatch.api.asgi import Message, Receive, Scope, Send, send_json
from fleetwatch.api.errors import ApiError, Forbidden, Unauthorized
from fleetwatch.api.glances import GlancesAPI
from fleetwatch.api.guard import from_store_error
from fleetwatch.api.history_range import HistoryReader, parse_range
from fleetwatch.api.shapes import glances_error
from fleetwatch.auth.authenticator import Authenticator
from fleetwatch.auth.permissions import VIEW_STATISTICS
from fleetwatch.collect.live import PluginState, Published, all_body, dumps
from fleetwatch.model.history import History
from fleetwatch.model.limits import Limits
from fleetwatch.model.plugin import PluginSpec
from fleetwatch.store import SnapshotRecord, Store, StoreError

__all__ = ["SystemsAPI"]


class SnapshotSource:
    """A system's latest snapshot (and, when asked, its history) shaped like the collector."""

    def __init__(
        self,
        snapshot: SnapshotRecord,
        specs: Mapping[str, PluginSpec],
        limits: Mapping[str, Limits],
        history: Mapping[str, History],
    ) -> None:
        self.extended_pid: int | None = None
        self._limits = limits
        self._history = history
        stats = snapshot.normalized
        self._specs = {name: spec for name, spec in specs.items() if name in stats}
        states = {
            name: PluginState(spec, stats[name], dumps(stats[name]), limits.get(name, {}))
            for name, spec in self._specs.items()
        }
        self._published = Published(states, all_body(states), snapshot.created_at)

    @property
    def specs(self) -> Mapping[str, PluginSpec]:
        return self._specs

    @property
    def limits(self) -> Mapping[str, Limits]:
        return {name: self._limits.get(name, {}) for name in self._specs}

    @property
    def history(self) -> Mapping[str, History]:
        return self._history

    @property
    def plugin_names(self) -> list[str]:
        return sorted(self._specs)

    async def current(self, wait_seconds: float = 10.0) -> Published:
        return self._published


class SystemsAPI:
    """ASGI app for ``/systems/...`` (the prefix before ``/systems`` already stripped)."""

    def __init__(
        self,
        store: Store,
        specs: Mapping[str, PluginSpec],
        limits: Mapping[str, Limits],
        auth: Authenticator,
        settings: Callable[[], dict[str, dict[str, Any]]],
        history: HistoryReader,
    ) -> None:
        self.store = store
        self.specs = specs
        self.limits = limits
        self.auth = auth
        self.settings = settings
        self.history = history

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        path: str = scope["path"]
        _, _, rest = path.partition("/systems/")
        name, _, inner = rest.partition("/")
        name = unquote(name)
        if not inner.startswith("api/4"):
            await send_json(send, 404, {"detail": f"Unknown route: {path}"})
            return
        if scope["method"] not in ("GET", "HEAD"):
            await send_json(send, 405, {"detail": "a pushed system's view is read-only"},
                            headers=[(b"allow", b"GET, HEAD")])  # fmt: skip
            return
        try:
            found = await self._api_for(scope, name, inner)
        except (ApiError, StoreError) as exc:  # a store that is down: 503 with Retry-After
            status, body, headers = glances_error(from_store_error(exc))
            await send_json(send, status, body, headers=headers)
            return
        if found is None:
            await send_json(send, 404, {"detail": f"Unknown system '{name}' or no statistics yet"})
            return
        api, resolution = found
        if resolution is not None:
            send = _with_header(send, b"x-fleetwatch-resolution", resolution.encode())
        await api({**scope, "path": inner.removeprefix("api/4") or "/"}, receive, send)

    async def _api_for(
        self, scope: Scope, name: str, inner: str
    ) -> tuple[GlancesAPI, str | None] | None:
        """The Glances app over the system, and the history resolution it was given, if any."""
        # Authorise before touching the store: an unknown caller learns no system names.
        client = scope.get("client")
        principal = await self.auth.resolve(scope["headers"], client[0] if client else "unknown")
        if principal is None:
            raise Unauthorized("Authentication required")
        if not principal.can(VIEW_STATISTICS):
            raise Forbidden(VIEW_STATISTICS)
        system = await self.store.get_system(name)
        snapshot = await self.store.latest_snapshot(system.id) if system else None
        if system is None or snapshot is None:
            return None
        history: dict[str, History] = {}
        resolution: str | None = None
        if "/history" in inner:
            span = parse_range(scope.get("query_string", b""), self.history.clock())
            if span is None:
                history = await self.history.latest(system.id)
                resolution = "raw"
            else:
                history, seconds = await self.history.over(system.id, *span)
                resolution = str(seconds) if seconds else "raw"
        source = SnapshotSource(snapshot, self.specs, self.limits, history)
        api = GlancesAPI(
            source, settings=self.settings, args=lambda: {"system": name}, auth=self.auth,
            anonymous=frozenset(), plugins=source.plugin_names,
        )  # fmt: skip
        return api, resolution


def _with_header(send: Send, name: bytes, value: bytes) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), (name, value)]}
        await send(message)

    return sending
