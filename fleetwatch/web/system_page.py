"""One system's page (``/systems/<name>``): its cards, tables, events and services.

The cards and tables come from the system's newest snapshot (what ``/systems/<name>/api/4``
serves); the charts are drawn in the browser from that API's history routes with ``?range=``,
so a 30-day chart reads the hour rollups the API picks, never a second query of its own.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from fleetwatch.api.fleet import Fleet
from fleetwatch.auth.permissions import SERVICE_VIEW_ALL, VIEW_EVENTS, VIEW_STATISTICS
from fleetwatch.engine.checkstate import state_name
from fleetwatch.model.summary import summary_of
from fleetwatch.store import Store
from fleetwatch.web.fleet_page import Gauges
from fleetwatch.web.pages import Pages, page

__all__ = ["CHARTS", "SystemPage"]

MAX_PROCESSES = 25
MAX_ROWS = 200
MAX_EVENTS = 50
# (plugin, title, unit, which history series: a regex on the series name)
CHARTS = (
    ("cpu", "CPU", "%", "^(total|user|system|iowait)$"),
    ("mem", "Memory", "%", "^percent$"),
    ("load", "Load", "", "^min(1|5|15)$"),
    ("fs", "Disk usage", "%", "_percent$"),
    ("diskio", "Disk I/O", "B/s", "_(read|write)_bytes_rate_per_sec$"),
    ("network", "Network", "B/s", "_bytes_(recv|sent)_rate_per_sec$"),
    ("sensors", "Temperatures", "°C", "."),
)
RANGES = ("1h", "12h", "24h", "7d", "30d")


def _items(stats: dict[str, Any], name: str, limit: int = MAX_ROWS) -> list[dict[str, Any]]:
    value = stats.get(name)
    items = [i for i in value if isinstance(i, dict)] if isinstance(value, list) else []
    return items[:limit]


def _top_processes(stats: dict[str, Any]) -> list[dict[str, Any]]:
    found = _items(stats, "processlist", limit=100_000)
    found.sort(key=lambda p: p.get("cpu_percent") or 0, reverse=True)
    return found[:MAX_PROCESSES]


class SystemPage:
    def __init__(self, pages: Pages, fleet: Fleet, store: Store, gauges: Gauges) -> None:
        self.pages = pages
        self.fleet = fleet
        self.store = store
        self.gauges = gauges

    @page
    async def show(self, request: Request) -> Response:
        viewer = await self.pages.require(request, VIEW_STATISTICS)
        name = request.path_params["name"]
        system = await self.store.get_system(name)
        if system is None or system.source == "checks":
            return self.pages.render(request, "missing.html", viewer, code=404, name=name)
        snapshot = await self.store.latest_snapshot(system.id)
        stats = snapshot.normalized if snapshot else {}
        summary = summary_of(stats)
        stale = self.fleet.staleness is not None and self.fleet.staleness.is_stale(system.id)
        status = "stale" if stale else "up" if system.last_seen else "never seen"
        events = []
        if viewer.can(VIEW_EVENTS):
            events = await self.store.list_events(system_id=system.id, limit=MAX_EVENTS)
        services = []
        if viewer.can(SERVICE_VIEW_ALL):
            for host in dict.fromkeys(h for h in (system.name, system.hostname) if h):
                services += await self.store.list_check_objects("service", host_name=host)
        return self.pages.render(
            request, "system.html", viewer, system=system, stats=stats, summary=summary,
            status=status, tags=await self.store.system_tags(system.name),
            snapshot_at=snapshot.created_at if snapshot else None,
            levels={
                "cpu": self.gauges.level("cpu", summary["cpu_percent"]),
                "mem": self.gauges.level("mem", summary["mem_percent"]),
                "disk": self.gauges.level("fs", summary["fs_max_percent"]),
            },
            fs=_items(stats, "fs"), network=_items(stats, "network"),
            containers=_items(stats, "containers"), processes=_top_processes(stats),
            sensors=_items(stats, "sensors"), gpus=_items(stats, "gpu"),
            events=events, services=services, state_name=state_name,
            charts=CHARTS, ranges=RANGES,
        )  # fmt: skip
