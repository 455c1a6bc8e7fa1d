"""The fleet at a glance: every system with its rhythm, staleness and current figures.

Served as ``GET /api/v1/systems`` (Rocket.Chat style) and TrueCommand's ``/api/servers/list``
(a map of id to ``{id, nickname, hostname, connection_is_up, last_sync, ...}``; ``with_details``
adds ``current_stats``).
"""

from __future__ import annotations

import statistics
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from fleetwatch.api.guard import Guard
from fleetwatch.auth.permissions import VIEW_STATISTICS
from fleetwatch.engine.staleness import StalenessWatcher
from fleetwatch.model.summary import CONSOLE_FIGURES, SUMMARY_FIGURES
from fleetwatch.store import Store
from fleetwatch.store.fleet import FleetRow
from fleetwatch.store.listing import iso_utc


class Fleet:
    def __init__(self, guard: Guard, store: Store, staleness: StalenessWatcher | None) -> None:
        self.guard = guard
        self.store = store
        self.staleness = staleness

    def status(self, row: FleetRow) -> str:
        """``up``, ``stale`` (past its window: the staleness watcher says) or ``never seen``."""
        if self.staleness is not None and self.staleness.is_stale(row.id):
            return "stale"
        return "up" if row.last_seen is not None else "never seen"

    async def overview(self) -> list[tuple[FleetRow, dict[str, Any]]]:
        """Every system with its rhythm, staleness and current figures: one store read."""
        out = []
        # The rhythms are the store's (several hubs share them), read with the fleet.
        rhythms = {}
        if self.staleness is not None:
            await self.staleness.flush()  # this hub's submissions of the last moment count
            rhythms = await self.store.rhythms()
        for row in await self.store.fleet_overview():
            rhythm = rhythms.get(row.id)
            interval = statistics.median(rhythm.intervals) if rhythm and rhythm.intervals else None
            summary = row.summary
            info = {
                "name": row.name,
                "hostname": row.hostname,
                "source": row.source,
                "tags": list(row.tags),
                "last_seen": iso_utc(row.last_seen),
                "last_seen_epoch": row.last_seen,
                "interval": interval,
                "stale": bool(self.staleness and self.staleness.is_stale(row.id)),
                "version": summary.get("agent_version"),
                "open_events": row.open_events,
                "current": {key: summary.get(key) for key in SUMMARY_FIGURES},
                "more": {key: summary.get(key) for key in CONSOLE_FIGURES},
            }
            out.append((row, info))
        return out

    async def systems(self, request: Request) -> Response:
        """Every system: rhythm, staleness and current figures."""
        await self.guard.require(request, VIEW_STATISTICS)
        entries = await self.overview()
        return JSONResponse({"systems": [info for _, info in entries], "success": True})

    async def servers_list(self, request: Request) -> Response:
        """TrueCommand's servers/list: a map of id to the system's connection state."""
        await self.guard.require(request, VIEW_STATISTICS)
        details = request.query_params.get("with_details", "").lower() in {"1", "true", "yes"}
        if request.method != "GET":
            fields = await self.guard.fields(request)
            details = details or bool(fields.get("with_details"))
        out: dict[str, Any] = {}
        for system, info in await self.overview():
            entry: dict[str, Any] = {
                "id": str(system.id), "nickname": system.name, "hostname": system.hostname,
                "connection_is_up": system.last_seen is not None and not info["stale"],
                "last_sync": info["last_seen"], "version": info["version"],
            }  # fmt: skip
            if details:
                entry["current_stats"] = {"hostname": system.hostname, "version": info["version"],
                                          **info["current"]}  # fmt: skip
            out[str(system.id)] = entry
        return JSONResponse(out)
