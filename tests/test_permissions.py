"""The permission matrix: every route of the app, enumerated from the routers, against anonymous,
a bad token, a user without the permission and a user with it, on both bind modes.

A route missing from ``EXPECTED`` fails the test, so no new route escapes the matrix.
"""

from __future__ import annotations

import os
import re
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest
from hubs import add_user, client_for, make_hub, started
from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount, Route

from fleetwatch.api.glances import permission_for
from fleetwatch.api.openapi import GLANCES_ROUTES
from fleetwatch.app import Hub
from fleetwatch.auth.admin import Actor
from fleetwatch.auth.permissions import ALL_PERMISSIONS

pytestmark = pytest.mark.anyio

PUBLIC = "public"
ANY_PRINCIPAL = "any principal"
MANAGE_USERS, MANAGE_SYSTEMS = "manage-users", "manage-systems"
MANAGE_NOTIFICATIONS = "manage-notifications"
SYSTEM_TOKEN = "a system token"  # TrueCommand's hooks: only a system may submit for itself

# Every route outside /api/4, with what it needs.
EXPECTED: dict[tuple[str, str], str] = {
    ("GET", "/openapi.json"): PUBLIC,
    ("GET", "/docs"): PUBLIC,
    ("GET", "/docs/static"): PUBLIC,
    ("GET", "/static"): PUBLIC,
    ("GET", "/assets"): PUBLIC,
    ("GET", "/login"): PUBLIC,
    ("POST", "/logout"): PUBLIC,  # ends the caller's session, if any
    ("POST", "/api/v1/events.clear"): "clear-events",
    ("POST", "/api/v1/events.ack"): "api-command",
    ("POST", "/api/v1/systems.tag"): MANAGE_SYSTEMS,
    ("POST", "/api/v1/hosts.tag"): "host-edit-all",
    ("POST", "/api/v1/services.tag"): "service-edit-all",
    ("POST", "/api/v1/login"): PUBLIC,
    ("POST", "/api/v1/logout"): ANY_PRINCIPAL,
    ("GET", "/api/v1/me"): ANY_PRINCIPAL,
    ("POST", "/api/v1/users.setPassword"): ANY_PRINCIPAL,  # one's own; others' needs manage-users
    ("POST", "/api/v1/users.generatePersonalAccessToken"): ANY_PRINCIPAL,
    ("GET", "/api/v1/users.list"): MANAGE_USERS,
    ("POST", "/api/v1/users.create"): MANAGE_USERS,
    ("POST", "/api/v1/users.delete"): MANAGE_USERS,
    ("GET", "/api/v1/groups.list"): MANAGE_USERS,
    ("POST", "/api/v1/groups.create"): MANAGE_USERS,
    ("POST", "/api/v1/groups.{change}"): MANAGE_USERS,
    ("GET", "/api/v1/audit.list"): MANAGE_USERS,
    ("GET", "/api/v1/systems.list"): "view-statistics",  # token names only with manage-systems
    ("GET", "/api/v1/statistics.list"): "view-statistics",
    ("GET", "/api/v1/statistics"): "view-statistics",
    ("GET", "/metrics"): "view-statistics",
    ("GET", "/api/v1/hosts.list"): "host-view-all",
    ("GET", "/api/v1/services.list"): "service-view-all",
    ("GET", "/api/v1/checkresults.list"): "service-view-all",
    ("GET", "/api/v1/events.list"): "view-events",
    ("GET", "/api/v1/events.stream"): "view-events",
    ("GET", "/api/v1/notifications.channels.list"): MANAGE_NOTIFICATIONS,
    ("POST", "/api/v1/notifications.channels.create"): MANAGE_NOTIFICATIONS,
    ("POST", "/api/v1/notifications.channels.delete"): MANAGE_NOTIFICATIONS,
    ("POST", "/api/v1/notifications.channels.test"): MANAGE_NOTIFICATIONS,
    ("GET", "/api/v1/notifications.rules.list"): MANAGE_NOTIFICATIONS,
    ("POST", "/api/v1/notifications.rules.create"): MANAGE_NOTIFICATIONS,
    ("POST", "/api/v1/notifications.rules.delete"): MANAGE_NOTIFICATIONS,
    ("GET", "/api/v1/notifications.deliveries.list"): "view-events",
    ("POST", "/api/v1/systems.create"): MANAGE_SYSTEMS,
    ("POST", "/api/v1/systems.delete"): MANAGE_SYSTEMS,
    ("POST", "/api/v1/systems.addToken"): MANAGE_SYSTEMS,
    ("POST", "/api/v1/systems.revokeToken"): MANAGE_SYSTEMS,
    ("GET", "/api/servers/list_tokens"): MANAGE_SYSTEMS,
    ("POST", "/api/servers/list_tokens"): MANAGE_SYSTEMS,
    ("PUT", "/api/servers/list_tokens"): MANAGE_SYSTEMS,
    ("POST", "/api/servers/add_tokens"): MANAGE_SYSTEMS,
    ("PUT", "/api/servers/add_tokens"): MANAGE_SYSTEMS,
    ("POST", "/api/servers/remove_tokens"): MANAGE_SYSTEMS,
    ("PUT", "/api/servers/remove_tokens"): MANAGE_SYSTEMS,
    ("GET", "/api/v1/systems"): "view-statistics",
    ("GET", "/api/servers/list"): "view-statistics",
    ("POST", "/api/servers/list"): "view-statistics",
    ("PUT", "/api/servers/list"): "view-statistics",
    ("POST", "/api/external/submit_stats"): SYSTEM_TOKEN,
    ("PUT", "/api/external/submit_stats"): SYSTEM_TOKEN,
    ("POST", "/api/external/submit_alerts"): SYSTEM_TOKEN,
    ("PUT", "/api/external/submit_alerts"): SYSTEM_TOKEN,
    # OP5: every command needs api-command, then host-edit-all or service-edit-all by command
    # (the sample is an unknown command, so api-command alone gets its 404); a filter needs the
    # view permission of its table, known only once the filter is read.
    ("POST", "/api/command/{command}"): "api-command",
    ("GET", "/api/status/host/{host}"): "host-view-all",
    ("GET", "/api/status/service/{service}"): "service-view-all",
    ("GET", "/api/filter/query"): ANY_PRINCIPAL,
    ("GET", "/api/filter/count"): ANY_PRINCIPAL,
    ("GET", "/api/config/host"): "host-view-all",
    ("POST", "/api/config/host"): "host-edit-all",
    ("DELETE", "/api/config/host/{host}"): "host-edit-all",
    ("GET", "/api/config/service"): "service-view-all",
    ("POST", "/api/config/service"): "service-edit-all",
    ("DELETE", "/api/config/service/{service}"): "service-edit-all",
}
# The console's pages: anonymous callers are sent to sign in (303) unless /api/4's anonymous
# read lets them see the page; a user without the permission gets a 403 page.
CONSOLE_PAGES: dict[tuple[str, str], str] = {
    ("GET", "/"): "view-statistics",
    ("GET", "/fleet.json"): "view-statistics",  # the fleet page's data: 401, not a redirect
    ("GET", "/systems/{name}"): "view-statistics",
    ("GET", "/checks"): "service-view-all",
    ("GET", "/events"): "view-events",
    ("GET", "/admin"): MANAGE_USERS,  # or manage-systems
    ("GET", "/notifications"): MANAGE_NOTIFICATIONS,  # or view-events (deliveries only)
    ("POST", "/login"): "the login form's CSRF token",
}
SAMPLES = {
    "plugin": "cpu", "item": "total", "nb": "2", "value": "x", "key": "x",
    "pid": str(os.getpid()), "section": "server", "change": "grant", "system": "perm-system",
    "command": "NO_SUCH_COMMAND", "host": "no-such-host", "service": "no-such-host;no such service",
    "name": "perm-system",
}  # fmt: skip
BAD_TOKEN = {"authorization": "Bearer fwu_not-a-real-token"}


def site_routes(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, str]]:
    for route in routes:
        if isinstance(route, Mount):
            inner = route.app
            if isinstance(inner, Starlette):
                yield from site_routes(inner.routes, prefix + route.path)
            else:
                yield "GET", prefix + route.path  # static files
        elif isinstance(route, Route):
            for method in sorted(route.methods or ()):
                if method != "HEAD":
                    yield method, prefix + route.path


def all_routes(hub: Hub) -> list[tuple[str, str, str]]:
    """(method, path template, what it needs) for every route the hub serves."""
    out: list[tuple[str, str, str]] = []
    for method, path in site_routes(hub.site.routes):
        if (method, path) in CONSOLE_PAGES:
            continue  # test_console_pages_against_every_kind_of_caller
        assert (method, path) in EXPECTED, f"{method} {path} is not in the permission matrix"
        out.append((method, path, EXPECTED[(method, path)]))
    for route in GLANCES_ROUTES:
        for method in route.methods:
            needed = PUBLIC if route.path == "/status" else permission_for(method, route.path)
            out.append((method, "/api/4" + route.path, needed))
            if method == "GET":  # a pushed system's view: read-only, never anonymous
                out.append((method, "/systems/{system}/api/4" + route.path, "view-statistics"))
    return out


def concrete(path: str) -> str:
    return re.sub(r"{(\w+)}", lambda m: SAMPLES[m.group(1)], path)


@pytest.fixture(scope="module", params=["127.0.0.1", "0.0.0.0"], ids=["loopback", "all"])
async def hub(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
              ) -> AsyncIterator[Hub]:  # fmt: skip
    the_hub = await started(
        make_hub(tmp_path_factory.mktemp("perm"), bind=request.param, auth_max_failures=100_000)
    )
    assert the_hub.notify is not None
    the_hub.notify.streams.max_stream_seconds = 0.05  # the matrix reads each answer whole
    yield the_hub
    await the_hub.store.close()


async def test_every_route_against_every_kind_of_caller(hub: Hub) -> None:
    loopback = hub.config.bind == "127.0.0.1"
    nobody = await add_user(hub, "nobody", "nobody password")
    users = {p: await add_user(hub, f"has-{p}", f"pw for {p}") for p in ALL_PERMISSIONS}
    for permission in ALL_PERMISSIONS:
        await hub.store.add_group(f"only-{permission}", [permission])
        await hub.store.add_member(f"has-{permission}", f"only-{permission}")
    _, system_token = await hub.admin.add_system(Actor("test", "127.0.0.1"), "perm-system")
    users[SYSTEM_TOKEN] = {"authorization": f"Bearer {system_token}"}
    routes = all_routes(hub)
    assert len(routes) > 40
    async with client_for(hub) as client:
        for method, template, needed in routes:
            path = concrete(template)
            where = f"{method} {path} ({'loopback' if loopback else 'all'})"
            anonymous_ok = needed == PUBLIC or (loopback and template.startswith("/api/4"))

            async def call(headers: dict[str, str], method: str = method, path: str = path
                           ) -> httpx.Response:  # fmt: skip
                login = {"username": "nobody", "password": "nobody password"}
                body = login if path.endswith("/login") else {}
                payload = body if method in ("POST", "PUT") else None
                return await client.request(method, path, headers=headers, json=payload)

            status = (await call({})).status_code
            assert (status not in (401, 403)) if anonymous_ok else status == 401, where

            status = (await call(BAD_TOKEN)).status_code
            bad_ok = needed == PUBLIC and not template.startswith("/api/4/")
            assert status != 401 if bad_ok or template == "/api/4/status" else status == 401, where

            status = (await call(nobody)).status_code
            if needed in (PUBLIC, ANY_PRINCIPAL) or anonymous_ok:
                assert status not in (401, 403), where
            else:
                assert status == 403, where

            if needed not in (PUBLIC, ANY_PRINCIPAL):
                status = (await call(users[needed])).status_code
                assert status not in (401, 403), where
                assert status < 500, where


async def test_console_pages_against_every_kind_of_caller(hub: Hub) -> None:
    pages = [(m, p) for m, p in site_routes(hub.site.routes) if (m, p) in CONSOLE_PAGES]
    assert len(pages) == len(CONSOLE_PAGES)
    loopback = hub.config.bind == "127.0.0.1"
    users = {}
    for permission in {p for p in CONSOLE_PAGES.values() if p in ALL_PERMISSIONS}:
        users[permission] = await add_user(hub, f"page-{permission}", f"pw for {permission}")
        await hub.store.add_group(f"page-only-{permission}", [permission])
        await hub.store.add_member(f"page-{permission}", f"page-only-{permission}")
    if await hub.store.get_system("perm-system") is None:  # the module's hub may have it
        await hub.admin.add_system(Actor("test", "127.0.0.1"), "perm-system")
    nobody = await add_user(hub, "page-nobody", "nobody password")
    async with client_for(hub) as client:
        for method, template in pages:
            path, needed = concrete(template), CONSOLE_PAGES[(method, template)]
            where = f"{method} {path}"
            if method == "POST":  # the login form without its token
                assert (await client.post(path, data={})).status_code == 403, where
                continue
            seen = loopback and needed == "view-statistics"  # /api/4's anonymous read
            for headers in ({}, BAD_TOKEN):
                status = (await client.get(path, headers=headers)).status_code
                refused = 401 if path.endswith(".json") else 303
                assert status == (200 if seen else refused), where
            assert (await client.get(path, headers=nobody)).status_code == 403, where
            assert (await client.get(path, headers=users[needed])).status_code == 200, where


def test_every_permission_guards_some_route(tmp_path: Path) -> None:
    hub = make_hub(tmp_path)
    guarded = {needed for _, _, needed in all_routes(hub)}
    # The rest belong to API families of other parts (commands, hosts, services, events).
    assert {
        "view-statistics",
        "api-command",
        "clear-events",
        MANAGE_USERS,
        MANAGE_SYSTEMS,
        MANAGE_NOTIFICATIONS,
    } <= guarded
