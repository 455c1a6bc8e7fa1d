"""The console: server-rendered pages over the same services the API uses.

Pages: ``/login``, ``/`` (the fleet), ``/systems/<name>``, ``/checks``, ``/events``,
``/notifications``, ``/admin``.
Their actions call the API routes themselves (``/api/command/...``, ``/api/v1/...``) with the
session's CSRF token; ``session.py`` turns the session cookie into the credential those routes
check. Styles and modules are under ``/static``; the browser libraries built by ``make web``
(uPlot) under ``/assets``.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from fleetwatch.api.fleet import Fleet
from fleetwatch.api.guard import Guard
from fleetwatch.auth.admin import Admin
from fleetwatch.engine.notify.manage import NotifyAdmin
from fleetwatch.model.limits import Limits
from fleetwatch.store import Store
from fleetwatch.web.admin_page import AdminPage
from fleetwatch.web.checks_page import ChecksPage
from fleetwatch.web.events_page import EventsPage
from fleetwatch.web.fleet_page import FleetPage, Gauges
from fleetwatch.web.login import Login
from fleetwatch.web.notifications_page import NotificationsPage
from fleetwatch.web.pages import Pages
from fleetwatch.web.system_page import SystemPage

__all__ = ["ASSETS", "STATIC", "ConsoleParts", "web_routes"]

STATIC = Path(__file__).parent / "static"
ASSETS = Path(__file__).parent / "assets"


@dataclass(frozen=True)
class ConsoleParts:
    """What the console's pages read: the API's own services."""

    pages: Pages
    guard: Guard
    store: Store
    fleet: Fleet
    admin: Admin
    limits: dict[str, Limits]
    notify: NotifyAdmin | None = None


def web_routes(parts: ConsoleParts) -> list[BaseRoute]:
    prefix = parts.pages.prefix
    login = Login(parts.pages, parts.guard)
    gauges = Gauges.of(parts.limits)
    fleet = FleetPage(parts.pages, parts.fleet, parts.store, gauges)
    system = SystemPage(parts.pages, parts.fleet, parts.store, gauges)
    checks = ChecksPage(parts.pages, parts.store)
    events = EventsPage(parts.pages, parts.store)
    admin = AdminPage(parts.pages, parts.admin)

    async def to_slash(_: Request) -> Response:
        return RedirectResponse(f"{prefix}/")

    routes: list[BaseRoute] = [
        Route(f"{prefix}/", fleet.index, methods=["GET"]),
        Route(f"{prefix}/fleet.json", fleet.data, methods=["GET"]),
        Route(f"{prefix}/systems/{{name}}", system.show, methods=["GET"]),
        Route(f"{prefix}/checks", checks.board, methods=["GET"]),
        Route(f"{prefix}/events", events.index, methods=["GET"]),
        Route(f"{prefix}/admin", admin.index, methods=["GET"]),
        Route(f"{prefix}/login", login.form, methods=["GET"]),
        Route(f"{prefix}/login", login.submit, methods=["POST"]),
        Route(f"{prefix}/logout", login.logout, methods=["POST"]),
        Mount(f"{prefix}/static", StaticFiles(directory=STATIC)),
        Mount(f"{prefix}/assets", StaticFiles(directory=ASSETS, check_dir=False)),
    ]
    if parts.notify is not None:
        notifications = NotificationsPage(parts.pages, parts.notify)
        routes.append(Route(f"{prefix}/notifications", notifications.index, methods=["GET"]))
    if prefix:
        routes.append(Route(prefix, to_slash, methods=["GET"]))
    return routes
