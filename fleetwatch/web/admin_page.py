"""Administration (``/admin``): systems and their tokens, users and groups.

The page lists what the admin API lists; every change is a form posting to that API
(``/api/v1/systems.create``, ``users.create``, ``groups.grant``...), which checks
``manage-systems`` / ``manage-users`` itself. A new token is shown once, by the browser, from
the API's answer: the hub keeps only its digest.
"""

from __future__ import annotations

from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from fleetwatch.auth.admin import Admin
from fleetwatch.auth.permissions import ALL_PERMISSIONS, MANAGE_SYSTEMS, MANAGE_USERS
from fleetwatch.web.pages import Pages, page

__all__ = ["AdminPage"]

MAX_SYSTEMS = 1000


class AdminPage:
    def __init__(self, pages: Pages, admin: Admin) -> None:
        self.pages = pages
        self.admin = admin

    @page
    async def index(self, request: Request) -> Response:
        viewer = await self.pages.require(request, MANAGE_SYSTEMS, MANAGE_USERS)
        systems: list[dict[str, Any]] = []
        if viewer.can(MANAGE_SYSTEMS):
            for row in (await self.admin.store.fleet_overview())[:MAX_SYSTEMS]:
                if row.source != "push":
                    continue  # the hub's own machine has no token
                tokens = await self.admin.store.list_system_tokens(row.id)
                systems.append({"row": row, "tokens": tokens})
        users = await self.admin.store.list_users() if viewer.can(MANAGE_USERS) else []
        groups = await self.admin.store.list_groups() if viewer.can(MANAGE_USERS) else []
        return self.pages.render(
            request, "admin.html", viewer, systems=systems, users=users, groups=groups,
            permissions=ALL_PERMISSIONS, hub_url=f"{request.url.scheme}://{request.url.netloc}"
            f"{self.pages.prefix}",
        )  # fmt: skip
