"""``GET /api/v1/statistics``: the hub's own figures, flat, as Rocket.Chat's ``statistics``.

Counting a million snapshots is not free, so the figures are kept for ``max_age`` seconds and
recomputed on demand with ``?refresh=true`` (as Rocket.Chat does).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from fleetwatch import __version__
from fleetwatch.api.guard import Guard
from fleetwatch.auth.permissions import VIEW_STATISTICS
from fleetwatch.engine.staleness import StalenessWatcher
from fleetwatch.store import Store
from fleetwatch.store.listing import iso_utc

__all__ = ["HubStatistics"]

# Never-checked objects are PENDING, as in `host list`, hosts.list and /metrics: not up, not ok.
SERVICE_STATES = ("ok", "warning", "critical", "unknown", "pending")
HOST_STATES = ("up", "down", "unreachable", "pending")

# Plain, parameterless SQL that both backends accept.
_SYSTEMS = "SELECT count(*) FROM systems WHERE source <> 'checks'"
_SNAPSHOTS = "SELECT count(*) FROM snapshots"
_OBJECTS = (
    "SELECT kind, CASE WHEN has_been_checked = 0 THEN -1 ELSE state END AS shown, count(*)"
    " FROM check_objects GROUP BY kind, shown"
)
_OPEN_EVENTS = "SELECT count(*) FROM events WHERE end_at < 0"
_RECENT_PUSHES = "SELECT count(*) FROM snapshots WHERE created_at >= {since} AND source = 'push'"
_RECENT_RESULTS = "SELECT count(*) FROM check_results WHERE checked_at >= {since}"


class HubStatistics:
    def __init__(
        self,
        guard: Guard,
        store: Store,
        staleness: StalenessWatcher | None,
        *,
        max_age: float = 60.0,
        time_limit: float = 10.0,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.guard = guard
        self.store = store
        self.staleness = staleness
        self.max_age = max_age
        self.time_limit = time_limit
        self.clock = clock
        self.started = clock()
        self._cached: dict[str, Any] | None = None
        self._cached_at = 0.0

    async def handle(self, request: Request) -> Response:
        await self.guard.require(request, VIEW_STATISTICS)
        refresh = request.query_params.get("refresh", "").lower() in {"1", "true", "yes"}
        now = self.clock()
        if refresh or self._cached is None or now - self._cached_at > self.max_age:
            self._cached = await self.compute(now)
            self._cached_at = now
        body = {**self._cached, "uptime": round(now - self.started, 3), "success": True}
        return Response(orjson.dumps(body), media_type="application/json")

    async def _one(self, sql: str) -> int:
        rows = await self.store.select(sql, {}, time_limit=self.time_limit)
        return int(rows[0][0])

    async def compute(self, now: float) -> dict[str, Any]:
        services = dict.fromkeys(SERVICE_STATES, 0)
        hosts = dict.fromkeys(HOST_STATES, 0)
        for kind, state, count in await self.store.select(_OBJECTS, {}, time_limit=self.time_limit):
            names = SERVICE_STATES if kind == "service" else HOST_STATES
            table = services if kind == "service" else hosts
            name = "pending" if state == -1 else names[min(max(state, 0), len(names) - 2)]
            table[name] += int(count)
        since = f"{now - 60.0:.3f}"  # our own number, so no parameter style to choose
        stale = 0
        if self.staleness is not None:
            stale = len(self.staleness.stale)
        return {
            "version": __version__,
            "startedAt": iso_utc(self.started),
            "createdAt": iso_utc(now),
            "_updatedAt": iso_utc(now),
            "totalSystems": await self._one(_SYSTEMS),
            "staleSystems": stale,
            "totalSnapshots": await self._one(_SNAPSHOTS),
            "totalHosts": sum(hosts.values()),
            "hostsByState": hosts,
            "totalServices": sum(services.values()),
            "servicesByState": services,
            "openEvents": await self._one(_OPEN_EVENTS),
            "submissionsPerMinute": await self._one(_RECENT_PUSHES.format(since=since)),
            "checkResultsPerMinute": await self._one(_RECENT_RESULTS.format(since=since)),
        }
