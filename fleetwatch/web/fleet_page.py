"""The fleet page (``/``): every system in one row, the counts, and the problems list.

Its systems come from ``Fleet.overview`` (one store read, the one ``/api/v1/systems`` makes);
its counts and problems from the events and check objects the API lists. Sorting and filtering
happen on the rows already read: they are in the query string, so a view can be bookmarked.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import Response

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

MAX_FILTER_CHARS = 100
MAX_PROBLEMS = 50
SORTS = {
    "name": lambda r: r["name"].lower(), "status": lambda r: r["status"],
    "cpu": lambda r: r["cpu"] or -1, "mem": lambda r: r["mem"] or -1,
    "disk": lambda r: r["disk"] or -1, "load": lambda r: r["load1"] or -1,
    "net": lambda r: (r["rx"] or 0) + (r["tx"] or 0), "temp": lambda r: r["temp"] or -1,
    "gpu": lambda r: r["gpu"] or -1, "seen": lambda r: r["last_seen"] or 0,
    "version": lambda r: r["version"] or "", "events": lambda r: r["events"],
}  # fmt: skip
STATES = ("up", "stale", "never seen")


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


@dataclass
class Filters:
    q: str = ""
    state: str = ""
    tag: str = ""
    sort: str = "name"
    desc: bool = False
    tags: list[str] = field(default_factory=list)

    @classmethod
    def of(cls, request: Request) -> Filters:
        params = request.query_params
        sort = params.get("sort", "name")
        return cls(
            q=params.get("q", "")[:MAX_FILTER_CHARS].strip(),
            state=params.get("state", "") if params.get("state", "") in STATES else "",
            tag=params.get("tag", "")[:MAX_FILTER_CHARS],
            sort=sort if sort in SORTS else "name",
            desc=params.get("desc", "") == "1",
        )

    def keeps(self, row: dict[str, Any]) -> bool:
        if self.state and row["status"] != self.state:
            return False
        if self.tag and self.tag not in row["tags"]:
            return False
        text = self.q.lower()
        return not text or any(
            text in str(v).lower() for v in (row["name"], row["hostname"] or "", *row["tags"])
        )


class FleetPage:
    def __init__(self, pages: Pages, fleet: Fleet, store: Store, gauges: Gauges) -> None:
        self.pages = pages
        self.fleet = fleet
        self.store = store
        self.gauges = gauges

    @page
    async def index(self, request: Request) -> Response:
        viewer = await self.pages.require(request, VIEW_STATISTICS)
        filters = Filters.of(request)
        rows = [self._row(row.id, info) for row, info in await self.fleet.overview()]
        filters.tags = sorted({tag for row in rows for tag in row["tags"]})
        counts = Counter(row["status"] for row in rows)
        shown = sorted((r for r in rows if filters.keeps(r)), key=SORTS[filters.sort],
                       reverse=filters.desc)  # fmt: skip
        services, problems = await self._checks(viewer)
        events = await self._events(viewer, {r["id"]: r["name"] for r in rows})
        return self.pages.render(
            request, "fleet.html", viewer, rows=shown, total=len(rows), counts=counts,
            services=services, problems=events + problems, filters=filters,
            open_events=sum(r["events"] for r in rows),
        )  # fmt: skip

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
