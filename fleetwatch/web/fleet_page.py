"""The fleet page (``/``): a row per system (the first ``ROWS`` by name, with a visible "N more"
past them), the counts over the whole fleet, and the problems list.

The page is a frame; ``fleet.js`` fills it from ``/fleet.json``, asked again every refresh
period with ``If-None-Match``. Its systems come from ``Fleet.overview`` (one store read, the one
``/api/v1/systems`` makes); its counts and problems from the events and check objects the API
lists. Whether anything changed is told by ``fleet_version`` (a few index look-ups) and the
staleness watcher, so an unchanged fleet costs a 304 and never the overview; a changed one is
encoded once for every open page. Sorting and filtering happen in the browser, kept in the
query string so a view can be bookmarked; past ``ROWS`` systems the browser passes its filters
to ``/fleet.json`` (``name``, ``tag``, ``status``, with ``count``/``offset``, as
``fleet_query`` reads them), so a 10,000-system fleet is never drawn whole, while the counts,
open events and tags stay those of the whole fleet (``fleet_counts``, one read).
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

from fleetwatch.api.errors import ApiError
from fleetwatch.api.fleet import Fleet
from fleetwatch.api.fleet_query import FleetQuery, parse_fleet_query
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
# A fleet row's columns, in /fleet.json's order, and the summary figures that end it.
SUMMARY_KEYS = ("agent_version", "cpu_percent", "mem_percent", "fs_max_percent", "load1",
                "load5", "load15", "cpu_num", "net_rx_bytes_per_second",
                "net_tx_bytes_per_second", "temp_max_celsius", "gpu_percent")  # fmt: skip
COLUMNS = ("name", "hostname", "tags", "status", "last_seen", "events", "version", "cpu", "mem",
           "disk", "load1", "load5", "load15", "cores", "rx", "tx", "temp", "gpu")  # fmt: skip
# The newest this long ago is rebuilt even when nothing seems to have changed ("12 s ago" moves
# on in the browser, but staleness and the counts are the hub's to say).
REBUILD_SECONDS = 60.0
# Rows in one /fleet.json by default (count=0: all): a browser draws 1,000 rows in a blink,
# 10,000 in seconds.
ROWS, MAX_ROWS = 1000, 10_000


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

    def as_json(self) -> dict[str, Any]:
        """Each gauge's ``[[LEVEL, percent], ...]`` from the highest (None: not judged)."""
        return {name: getattr(self, name) for name in ("cpu", "mem", "fs", "load")}


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
        raw = request.scope.get("query_string", b"")
        try:
            query = parse_fleet_query(raw, default_count=ROWS, max_count=MAX_ROWS)
        except ApiError as exc:
            return JSONResponse({"detail": str(exc)}, exc.status)
        version = (
            await self.store.fleet_version(),
            tuple(sorted(self.fleet.staleness.stale if self.fleet.staleness else ())),
            int(self.pages.clock() // REBUILD_SECONDS),
            shows,
            raw,
        )
        tag = '"' + hashlib.blake2b(repr(version).encode(), digest_size=12).hexdigest() + '"'
        headers = {"etag": tag, "cache-control": "no-cache"}
        if tag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        body = self._cached.get(tag)
        if body is None:
            body = orjson.dumps(await self._payload(viewer, query))
            self._cached = {tag: body}  # one version at a time: every viewer shares it
        return Response(body, headers=headers, media_type="application/json")

    async def _payload(self, viewer: Viewer, query: FleetQuery) -> dict[str, Any]:
        # Rows as arrays under named columns: a fraction of the work and the bytes of objects
        # for 1,000 systems; the browser judges the bars by ``levels``, as the hub's alerts do.
        rows: list[list[Any]] = []
        found, total = await self.store.fleet_page(
            query.where, offset=query.offset, limit=query.count
        )
        for row in found:
            get = row.summary.get
            rows.append([row.name, row.hostname, row.tags, self.fleet.status(row), row.last_seen,
                         row.open_events, *(get(key) for key in SUMMARY_KEYS)])  # fmt: skip
        whole = await self.store.fleet_counts()
        services, problems = await self._checks(viewer)
        events = await self._events(viewer)
        return {
            "columns": COLUMNS, "rows": rows, "levels": self.gauges.as_json(),
            "counts": whole.statuses, "total": total, "offset": query.offset,
            "more": max(total - query.offset - len(rows), 0),
            "services": services if viewer.can(SERVICE_VIEW_ALL) else None,
            "problems": events + problems, "open_events": whole.open_events,
            "tags": whole.tags,
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

    async def _events(self, viewer: Viewer) -> list[dict[str, Any]]:
        if not viewer.can(VIEW_EVENTS):
            return []
        out = []
        opened = await self.store.list_events(open_only=True, limit=MAX_PROBLEMS)
        names = await self.store.system_names(sorted({event.system_id for event in opened}))
        for event in opened:
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
