"""The dashboard: static files that read the same ``/api/4`` as every other client."""

from __future__ import annotations

from pathlib import Path

from starlette.requests import Request
from starlette.responses import FileResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

STATIC = Path(__file__).parent / "static"


def web_routes(prefix: str) -> list[BaseRoute]:
    async def index(_: Request) -> Response:
        return FileResponse(STATIC / "index.html", headers={"cache-control": "no-cache"})

    async def to_slash(_: Request) -> Response:
        return RedirectResponse(f"{prefix}/")

    routes: list[BaseRoute] = [
        Route(f"{prefix}/", index, methods=["GET"]),
        Mount(f"{prefix}/static", StaticFiles(directory=STATIC)),
    ]
    if prefix:
        routes.append(Route(prefix, to_slash, methods=["GET"]))
    return routes
