"""The fleet page (``/``): every system in one row, the counts, and the problems list.

The page is a frame; ``fleet.js`` fills it from ``/fleet.json``, asked again every refresh
period with ``If-None-Match``. Its systems come from ``Fleet.overview`` (one store read, the one
``/api/v1/systems`` makes); its counts and problems from the events and check objects the API
lists. Whether anything changed is told by ``fleet_version`` (a few index look-ups) and the
staleness watcher, so an unchanged fleet costs a 304 and never the overview; a changed one is
encoded once for every open page. Sorting and filtering happen in the browser, kept in the
query string so a view can be bookmarked.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

import orjson
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from fleetwatch.api.fleet import Fleet
from fleetwatch.auth.permissions import (
    HOST_VIEW_ALL,
    SERVICE_VIEW_ALL,
    VIEW_EVENTS,
    VIEW_STATISTICS,
)
from fleetwatch.engine.checks import EVENTS_SYSTEM
from fleetwatch.engine.checkstate import state_name
from fleetwatch.model.limits import Limits
from fleetwatch.model.views import Levels, level_at, levels_of
from fleetwatch.store import Store
from fleetwatch.web.pages import Pages, Viewer, page

__all__ = ["FleetPage", "Gauges"]

MAX_PROBLEMS = 50
# The newest this long ago is rebuilt even when nothing seems to have changed ("12 s ago" moves
# on in the browser, but staleness and the counts are the hub's to say).
REBUILD_SECONDS = 60.0


@dataclass(frozen=True)
class Gauges:
    """The thresholds the hub judges every system by, resolved once."""

    cpu: Levels
    mem: Levels
    fs: Levels
    load: Levels

    @classmethod
    def of(cls, limits: dict[str, Limits]) -> Gauges:
        return cls(
            cpu=levels_of(limits.get("cpu", {}), "cpu", "cpu_total"),
            mem=levels_of(limits.get("mem", {}), "mem", "mem"),
            fs=levels_of(limits.get("fs", {}), "fs", "fs"),
            load=levels_of(limits.get("load", {}), "load", "load"),
        )

    def level(self, name: str, value: float | None) -> str:
        return "none" if value is None else level_at(value, getattr(self, name))


class FleetPage:
    def __init__(self, pages: Pages, fleet: Fleet, store: Store, gauges: Gauges) -> None:
        self.pages = pages
        self.fleet = fleet
        self.store = store
        self.gauges = gauges
        self._cached: dict[str, bytes] = {}

    @page
    async def index(self, request: Request) -> Response:
        """The page's frame: ``fleet.js`` fills it from ``/fleet.json``."""
        viewer = await self.pages.require(request, VIEW_STATISTICS)
        return self.pages.render(request, "fleet.html", viewer)

    async def data(self, request: Request) -> Response:
        """The fleet as JSON, answered 304 while nothing it shows has changed."""
        viewer = await self.pages.viewer(request)
        if not viewer.can(VIEW_STATISTICS):
            return JSONResponse({"detail": "sign in to see the fleet"}, 401 if not
                                viewer.signed_in else 403)  # fmt: skip
        shows = (viewer.can(HOST_VIEW_ALL), viewer.can(SERVICE_VIEW_ALL), viewer.can(VIEW_EVENTS))
        version = (
            await self.store.fleet_version(),
            tuple(sorted(k for k, r in self._rhythms() if r.stale is not None)),
            int(self.pages.clock() // REBUILD_SECONDS),
            shows,
        )
        tag = '"' + hashlib.blake2b(repr(version).encode(), digest_size=12).hexdigest() + '"'
        headers = {"etag": tag, "cache-control": "no-cache"}
        if tag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        body = self._cached.get(tag)
        if body is None:
            body = orjson.dumps(await self._payload(viewer))
            self._cached = {tag: body}  # one version at a time: every viewer shares it
        return Response(body, headers=headers, media_type="application/json")

    def _rhythms(self) -> list[tuple[int, Any]]:
        return list(self.fleet.staleness.systems.items()) if self.fleet.staleness else []

    async def _payload(self, viewer: Viewer) -> dict[str, Any]:
        rows = [self._row(row.id, info) for row, info in await self.fleet.overview()]
        services, problems = await self._checks(viewer)
        events = await self._events(viewer, {r["id"]: r["name"] for r in rows})
        return {
            "rows": rows, "counts": Counter(row["status"] for row in rows),
            "services": services if viewer.can(SERVICE_VIEW_ALL) else None,
            "problems": events + problems, "open_events": sum(r["events"] for r in rows),
            "tags": sorted({tag for row in rows for tag in row["tags"]}),
        }  # fmt: skip

    def _row(self, system_id: int, info: dict[str, Any]) -> dict[str, Any]:
        current, more = info["current"], info["more"]
        status = "stale" if info["stale"] else "up" if info["last_seen"] else "never seen"
        cores = current.get("cpu_num") or 1
        load15 = more.get("load15")
        return {
            "id": system_id, "name": info["name"], "hostname": info["hostname"],
            "source": info["source"], "tags": info["tags"], "status": status,
            "last_seen": info["last_seen_epoch"], "version": info["version"],
            "events": info["open_events"],
            "cpu": current.get("cpu_percent"), "mem": current.get("mem_percent"),
            "disk": more.get("fs_max_percent"), "load1": current.get("load1"),
            "load5": more.get("load5"), "load15": load15, "cores": current.get("cpu_num"),
            "rx": more.get("net_rx_bytes_per_second"), "tx": more.get("net_tx_bytes_per_second"),
            "temp": more.get("temp_max_celsius"), "gpu": more.get("gpu_percent"),
            "cpu_level": self.gauges.level("cpu", current.get("cpu_percent")),
            "mem_level": self.gauges.level("mem", current.get("mem_percent")),
            "disk_level": self.gauges.level("fs", more.get("fs_max_percent")),
            "load_level": self.gauges.level("load", None if load15 is None else load15 / cores),
        }  # fmt: skip

    async def _checks(self, viewer: Viewer) -> tuple[Counter[str], list[dict[str, Any]]]:
        """Services by state, and the non-OK hard states, unacknowledged first."""
        kinds = [k for k, p in (("host", HOST_VIEW_ALL), ("service", SERVICE_VIEW_ALL))
                 if viewer.can(p)]  # fmt: skip
        services: Counter[str] = Counter()
        problems: list[dict[str, Any]] = []
        for kind in kinds:
            for obj in await self.store.list_check_objects(kind):  # type: ignore[arg-type]
                word = (
                    state_name(obj.state, host=obj.is_host) if obj.has_been_checked else "PENDING"
                )
                if not obj.is_host:
                    services[word] += 1
                if obj.state != 0 and obj.state_type == "HARD":
                    problems.append({
                        "kind": kind, "state": word, "name": obj.display_name,
                        "text": obj.output, "since": obj.last_hard_state_change,
                        "acknowledged": obj.acknowledged, "downtime": obj.downtime_depth > 0,
                        "href": f"{self.pages.prefix}/checks#{_anchor(obj.display_name)}",
                    })  # fmt: skip
        problems.sort(key=lambda p: (p["acknowledged"], -p["since"]))
        return services, problems[:MAX_PROBLEMS]

    async def _events(self, viewer: Viewer, names: dict[int, str]) -> list[dict[str, Any]]:
        if not viewer.can(VIEW_EVENTS):
            return []
        out = []
        for event in await self.store.list_events(open_only=True, limit=MAX_PROBLEMS):
            name = names.get(event.system_id)
            href = (
                f"{self.pages.prefix}/systems/{quote(name, safe='')}"
                if name
                else f"{self.pages.prefix}/events"
            )
            out.append({
                "kind": "event", "state": event.state, "name": name or EVENTS_SYSTEM,
                "text": f"{event.type}: {event.desc}" if event.desc else event.type,
                "since": event.begin, "acknowledged": False, "downtime": False, "href": href,
            })  # fmt: skip
        return out


def _anchor(name: str) -> str:
    return "obj-" + "".join(c if c.isalnum() else "-" for c in name)
