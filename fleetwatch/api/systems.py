"""``/systems/<name>/api/4/...``: the Glances API over a pushed system's stored snapshots.

The same dispatcher as ``/api/4`` serves it; only the source differs: the system's latest
snapshot (its Glances-shaped form) instead of the live collector, and history read from the
store's snapshots when a history route asks for it. It needs ``view-statistics``: anonymous
reads stay limited to the hub's own ``/api/4`` on loopback.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any
from urllib.parse import unquote

from fleetwatch.api.asgi import Receive, Scope, Send, send_json
from fleetwatch.api.errors import ApiError, Forbidden, Unauthorized
from fleetwatch.api.glances import GlancesAPI
from fleetwatch.api.shapes import glances_error
from fleetwatch.auth.authenticator import Authenticator
from fleetwatch.auth.permissions import VIEW_STATISTICS
from fleetwatch.collect.live import PluginState, Published, all_body, dumps
from fleetwatch.model.history import History
from fleetwatch.model.limits import Limits
from fleetwatch.model.plugin import PluginSpec
from fleetwatch.store import SnapshotRecord, Store

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


def history_of(
    snapshots: list[SnapshotRecord], specs: Mapping[str, PluginSpec], size: int
) -> dict[str, History]:
    """History buffers rebuilt from stored snapshots, oldest first."""
    out = {name: History(size) for name in specs}
    for snap in snapshots:
        for name, spec in specs.items():
            if name in snap.normalized:
                out[name].record(snap.normalized[name], snap.created_at, spec.history, spec.key)
    return out


class SystemsAPI:
    """ASGI app for ``/systems/...`` (the prefix before ``/systems`` already stripped)."""

    def __init__(
        self,
        store: Store,
        specs: Mapping[str, PluginSpec],
        limits: Mapping[str, Limits],
        auth: Authenticator,
        settings: Callable[[], dict[str, dict[str, Any]]],
        history_size: int,
    ) -> None:
        self.store = store
        self.specs = specs
        self.limits = limits
        self.auth = auth
        self.settings = settings
        self.history_size = history_size

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
            api = await self._api_for(scope, name, inner)
        except ApiError as exc:
            status, body, headers = glances_error(exc)
            await send_json(send, status, body, headers=headers)
            return
        if api is None:
            await send_json(send, 404, {"detail": f"Unknown system '{name}' or no statistics yet"})
            return
        await api({**scope, "path": inner.removeprefix("api/4") or "/"}, receive, send)

    async def _api_for(self, scope: Scope, name: str, inner: str) -> GlancesAPI | None:
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
        if "/history" in inner:
            rows = await self.store.snapshots(
                system.id, limit=self.history_size, newest_first=False
            )
            history = history_of(rows, self.specs, self.history_size)
        source = SnapshotSource(snapshot, self.specs, self.limits, history)
        return GlancesAPI(
            source, settings=self.settings, args=lambda: {"system": name}, auth=self.auth,
            anonymous=frozenset(), plugins=source.plugin_names,
        )  # fmt: skip
