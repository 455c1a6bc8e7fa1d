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
from collections.abc import Awaitable, Callable
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response

from fleetwatch.api.fleet_query import FleetQuery, parse_fleet_query
from fleetwatch.api.guard import Guard
from fleetwatch.api.whole_fleet import WholeBodies
from fleetwatch.auth.permissions import VIEW_STATISTICS
from fleetwatch.engine.staleness import StalenessWatcher
from fleetwatch.model.summary import CONSOLE_FIGURES, SUMMARY_FIGURES
from fleetwatch.store import Store
from fleetwatch.store.fleet import FleetRow
from fleetwatch.store.fleet_sql import THREAD_ROWS
from fleetwatch.store.hubs import RhythmRow
from fleetwatch.store.listing import iso_utc

DEFAULT_COUNT, MAX_COUNT = 50, 100  # the lists' defaults (query.default_count, max_count)


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
        self._whole: WholeBodies[tuple[bytes, int]] = WholeBodies()

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

    async def page(self, query: FleetQuery) -> tuple[list[FleetRow], dict[int, RhythmRow], int]:
        """A page of systems, their rhythms, and how many match: one store read each."""
        rows, total = await self.store.fleet_page(
            query.where, offset=query.offset, limit=query.count
        )
        return rows, await self.rhythms(rows), total

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

        async def build() -> tuple[bytes, int]:
            rows, rhythms, total = await self.page(query)

            def encode() -> bytes:
                body = {"systems": [self.info(row, rhythms.get(row.id)) for row in rows],
                        **query.tail(len(rows), total), "success": True}  # fmt: skip
                return orjson.dumps(body)

            return await _off_loop(encode, len(rows)), total

        body, _ = await self._body(request, query, b"systems", build)
        return Response(body, media_type="application/json")

    async def servers_list(self, request: Request) -> Response:
        """TrueCommand's servers/list: a map of id to the system's connection state, a page at a
        time (the fleet's paging parameters; the total in ``X-Total-Count``)."""
        await self.guard.require(request, VIEW_STATISTICS)
        query = self.query(request, "with_details")
        details = request.query_params.get("with_details", "").lower() in {"1", "true", "yes"}
        if request.method != "GET":
            fields = await self.guard.fields(request)
            details = details or bool(fields.get("with_details"))

        async def build() -> tuple[bytes, int]:
            rows, rhythms, total = await self.page(query)

            def encode() -> bytes:
                out: dict[str, Any] = {}
                for system in rows:
                    info = self.info(system, rhythms.get(system.id))
                    entry: dict[str, Any] = {
                        "id": str(system.id), "nickname": system.name,
                        "hostname": system.hostname,
                        "connection_is_up": system.last_seen is not None and not info["stale"],
                        "last_sync": info["last_seen"], "version": info["version"],
                    }  # fmt: skip
                    if details:
                        entry["current_stats"] = {"hostname": system.hostname,
                                                  "version": info["version"],
                                                  **info["current"]}  # fmt: skip
                    out[str(system.id)] = entry
                return orjson.dumps(out)

            return await _off_loop(encode, len(rows)), total

        kind = b"servers/list+details" if details else b"servers/list"
        body, total = await self._body(request, query, kind, build)
        return Response(body, media_type="application/json",
                        headers={"x-total-count": str(total)})  # fmt: skip

    async def _body(
        self,
        request: Request,
        query: FleetQuery,
        kind: bytes,
        build: Callable[[], Awaitable[tuple[bytes, int]]],
    ) -> tuple[bytes, int]:
        """A page's body and total; the whole fleet's (``count=0``) reused for a second."""
        if query.count is not None:
            return await build()
        raw: bytes = request.scope.get("query_string", b"")
        return await self._whole.get(kind + b"?" + raw, build)


async def _off_loop(encode: Callable[[], bytes], rows: int) -> bytes:
    """``encode()``; for a large body in a worker thread, so a client reading the whole fleet
    does not hold the event loop, and the submissions waiting on it, for a tenth of a second."""
    return await asyncio.to_thread(encode) if rows >= THREAD_ROWS else encode()
