"""``GET /api/4/serverslist``: the fleet in the shape Glances' central browser reads.

One entry per system: ``key``, ``name``, ``alias``, ``ip``, ``port``, ``protocol`` (``rest``),
``status`` (``ONLINE`` while it reports on time, ``OFFLINE`` once stale or before its first
report), ``type`` (``STATIC``: the hub knows them by registration, not discovery), the
browser's default ``columns`` (``system_hr_name``, ``load_min5``, ``cpu_total``,
``mem_percent``) with their values, and ``path``, where this hub serves the system's own
Glances API. Never a credential: Glances' browser entries may carry ``username``, ``password``
and a ``uri`` with them in it; these never do.
"""

from __future__ import annotations

import asyncio
from typing import Any
from urllib.parse import quote

import orjson

from fleetwatch.api.fleet_latest import FleetLatest
from fleetwatch.api.fleet_query import parse_fleet_query
from fleetwatch.api.metrics_systems import SystemView
from fleetwatch.api.whole_fleet import WholeBodies
from fleetwatch.store import Store, SystemRecord
from fleetwatch.store.fleet_sql import THREAD_ROWS

__all__ = ["ServersList"]

# Glances' default browser columns: (plugin, field), shown as "<plugin>_<field>".
COLUMNS = (("system", "hr_name"), ("load", "min5"), ("cpu", "total"), ("mem", "percent"))


class ServersList:
    def __init__(
        self,
        store: Store,
        fleet: FleetLatest,
        port: int,
        url_prefix: str,
        *,
        default_count: int = 50,
        max_count: int = 100,
    ) -> None:
        self.store = store
        self.fleet = fleet
        self.port = port
        self.url_prefix = url_prefix
        self.default_count = default_count
        self.max_count = max_count
        self._whole: WholeBodies[tuple[bytes, int]] = WholeBodies()

    async def __call__(self, raw_query: bytes = b"") -> tuple[bytes, int]:
        """A page of the fleet (the fleet's paging and filters, ``count=0`` for all) as the JSON
        list Glances' browser reads, and how many systems match."""
        query = parse_fleet_query(raw_query, default_count=self.default_count,
                                  max_count=self.max_count)  # fmt: skip

        async def build() -> tuple[bytes, int]:
            rows, total = await self.store.fleet_page(
                query.where, offset=query.offset, limit=query.count
            )
            systems = [SystemRecord(r.id, r.name, r.hostname, r.source, r.created_at,
                                    r.last_seen) for r in rows]  # fmt: skip
            views = await self.fleet.views(systems, whole=False)
            # An open STALE event (the database's word, the same on every hub) means OFFLINE.
            stale = {r.name for r in rows if r.stale}

            def encode() -> bytes:
                return orjson.dumps([self.entry(view, view.name in stale) for view in views])

            big = len(views) >= THREAD_ROWS  # off the event loop, as the fleet's own lists
            return (await asyncio.to_thread(encode) if big else encode()), total

        if query.count is not None:
            return await build()
        return await self._whole.get(raw_query, build)

    def entry(self, view: SystemView, stale: bool = False) -> dict[str, Any]:
        out: dict[str, Any] = {
            "key": view.name,
            "name": view.name,
            "alias": view.hostname or view.name,
            "ip": view.hostname,
            "port": self.port,
            "protocol": "rest",
            "status": "ONLINE" if view.up and not stale else "OFFLINE",
            "type": "STATIC",
            "path": f"{self.url_prefix}/api/4"
            if view.local
            else (f"{self.url_prefix}/systems/{quote(view.name, safe='')}/api/4"),
            "columns": [f"{plugin}_{field}" for plugin, field in COLUMNS],
        }
        for plugin, field in COLUMNS:
            section = view.stats.get(plugin)
            value = section.get(field) if isinstance(section, dict) else None
            out[f"{plugin}_{field}"] = value
        return out
