"""The fleet at a glance: systems with their rhythm, staleness and current figures, a page at a
time.

Served as ``GET /api/v1/systems`` (Rocket.Chat style: ``{"systems": [...], "count", "offset",
"total", "success"}``) and TrueCommand's ``/api/servers/list`` (a map of id to ``{id, nickname,
hostname, connection_is_up, last_sync, ...}``; ``with_details`` adds ``current_stats``; the
total in ``X-Total-Count``, as the map has no room for it). Both take ``fleet_query``'s paging
and filters; a page costs one read whatever the fleet's size, ``count=0`` the whole fleet.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from fleetwatch.api.fleet_query import FleetQuery, parse_fleet_query
from fleetwatch.api.guard import Guard
from fleetwatch.auth.permissions import VIEW_STATISTICS
from fleetwatch.engine.staleness import StalenessWatcher
from fleetwatch.model.summary import CONSOLE_FIGURES, SUMMARY_FIGURES
from fleetwatch.store import Store
from fleetwatch.store.fleet import FleetRow
from fleetwatch.store.fleet_sql import THREAD_ROWS
from fleetwatch.store.hubs import RhythmRow
from fleetwatch.store.listing import iso_utc

DEFAULT_COUNT, MAX_COUNT = 50, 100  # the lists' defaults (query.default_count, max_count)
# The whole fleet (count=0) is built at most once per this many seconds for each query string:
# a client polling the 10,000-system list back to back then costs a dict look-up per poll, not
# a tenth of a second of the hub's one Python thread. Figures a second old are still current.
WHOLE_SECONDS = 1.0
WHOLE_KEPT = 16  # query strings remembered


class Fleet:
    def __init__(
        self,
        guard: Guard,
        store: Store,
        staleness: StalenessWatcher | None,
        *,
        default_count: int = DEFAULT_COUNT,
        max_count: int = MAX_COUNT,
    ) -> None:
        self.guard = guard
        self.store = store
        self.staleness = staleness
        self.default_count = default_count
        self.max_count = max_count
        self._whole: dict[bytes, tuple[float, bytes]] = {}

    def query(self, request: Request, *extra: str) -> FleetQuery:
        """The request's paging and filters; ``QueryError`` (400) naming a bad one."""
        return parse_fleet_query(
            request.scope.get("query_string", b""), default_count=self.default_count,
            max_count=self.max_count, extra=extra,
        )  # fmt: skip

    @staticmethod
    def status(row: FleetRow) -> str:
        """``stale`` (an open STALE event), ``up`` once it reported, else ``never seen``."""
        if row.stale:
            return "stale"
        return "up" if row.last_seen is not None else "never seen"

    @staticmethod
    def info(row: FleetRow, rhythm: RhythmRow | None) -> dict[str, Any]:
        interval = statistics.median(rhythm.intervals) if rhythm and rhythm.intervals else None
        summary = row.summary
        return {
            "name": row.name,
            "hostname": row.hostname,
            "source": row.source,
            "tags": list(row.tags),
            "last_seen": iso_utc(row.last_seen),
            "last_seen_epoch": row.last_seen,
            "interval": interval,
            "stale": row.stale,
            "version": summary.get("agent_version"),
            "open_events": row.open_events,
            "current": {key: summary.get(key) for key in SUMMARY_FIGURES},
            "more": {key: summary.get(key) for key in CONSOLE_FIGURES},
        }

    async def page(self, query: FleetQuery) -> tuple[list[tuple[FleetRow, dict[str, Any]]], int]:
        """A page of systems with their figures, and how many match: one store read."""
        rows, total = await self.store.fleet_page(
            query.where, offset=query.offset, limit=query.count
        )
        rhythms = await self.rhythms(rows)
        return [(row, self.info(row, rhythms.get(row.id))) for row in rows], total

    async def rhythms(self, rows: list[FleetRow]) -> dict[int, RhythmRow]:
        """The rows' rhythms: the store's (several hubs share them), this hub's submissions of
        the last moment written first."""
        if self.staleness is None or not rows:
            return {}
        await self.staleness.flush()
        return await self.store.rhythms([row.id for row in rows])

    async def systems(self, request: Request) -> Response:
        """A page of systems (``count``, ``offset``, ``name``, ``tag``, ``status``; ``count=0``
        for all): rhythm, staleness and current figures."""
        await self.guard.require(request, VIEW_STATISTICS)
        query = self.query(request)
        raw: bytes = request.scope.get("query_string", b"")
        if query.count is None:
            held = self._whole.get(raw)
            if held is not None and time.monotonic() - held[0] < WHOLE_SECONDS:
                return Response(held[1], media_type="application/json")
        rows, total = await self.store.fleet_page(
            query.where, offset=query.offset, limit=query.count
        )

        rhythms = await self.rhythms(rows)

        def encode() -> bytes:
            body = {"systems": [self.info(row, rhythms.get(row.id)) for row in rows],
                    **query.tail(len(rows), total), "success": True}  # fmt: skip
            return orjson.dumps(body)

        # The whole fleet is built in a worker thread, so a client reading it does not hold the
        # event loop, and the submissions waiting on it, for a tenth of a second.
        big = len(rows) >= THREAD_ROWS
        encoded = await asyncio.to_thread(encode) if big else encode()
        if query.count is None:
            if len(self._whole) >= WHOLE_KEPT:
                self._whole.clear()
            self._whole[raw] = (time.monotonic(), encoded)
        return Response(encoded, media_type="application/json")

    async def servers_list(self, request: Request) -> Response:
        """TrueCommand's servers/list: a map of id to the system's connection state, a page at a
        time (the fleet's paging parameters; the total in ``X-Total-Count``)."""
        await self.guard.require(request, VIEW_STATISTICS)
        query = self.query(request, "with_details")
        details = request.query_params.get("with_details", "").lower() in {"1", "true", "yes"}
        if request.method != "GET":
            fields = await self.guard.fields(request)
            details = details or bool(fields.get("with_details"))
        out: dict[str, Any] = {}
        entries, total = await self.page(query)
        for system, info in entries:
            entry: dict[str, Any] = {
                "id": str(system.id), "nickname": system.name, "hostname": system.hostname,
                "connection_is_up": system.last_seen is not None and not info["stale"],
                "last_sync": info["last_seen"], "version": info["version"],
            }  # fmt: skip
            if details:
                entry["current_stats"] = {"hostname": system.hostname, "version": info["version"],
                                          **info["current"]}  # fmt: skip
            out[str(system.id)] = entry
        return Response(orjson.dumps(out), media_type="application/json",
                        headers={"x-total-count": str(total)})  # fmt: skip
