"""``/openapi.json`` and ``/docs``: Swagger UI served from the installed package, no CDN."""

from __future__ import annotations

from collections.abc import Callable

import swagger_ui_bundle
from starlette.requests import Request
from starlette.responses import HTMLResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles

from fleetwatch.api.openapi import build_openapi
from fleetwatch.api.openapi_site import site_paths
from fleetwatch.collect.live import LiveStats, dumps

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Fleetwatch API</title>
<link rel="stylesheet" href="{static}/swagger-ui.css"></head>
<body><div id="swagger-ui"></div>
<script src="{static}/swagger-ui-bundle.js"></script>
<script>window.ui = SwaggerUIBundle({{url: "{spec}", dom_id: "#swagger-ui"}});</script>
</body></html>
"""


def docs_routes(
    prefix: str, live: LiveStats, site: Callable[[], list[BaseRoute]] = list
) -> list[BaseRoute]:
    """``site`` gives the app's other routes once it is built; they are documented too."""
    cache: list[bytes] = []

    def spec_body() -> bytes:
        if not cache:
            spec = build_openapi(prefix, live.specs)
            spec["paths"].update(site_paths(site()))
            cache.append(dumps(spec))
        return cache[0]

    page = PAGE.format(static=f"{prefix}/docs/static", spec=f"{prefix}/openapi.json")

    async def openapi(_: Request) -> Response:
        return Response(spec_body(), media_type="application/json")

    async def docs(_: Request) -> Response:
        return HTMLResponse(page)

    return [
        Route(f"{prefix}/openapi.json", openapi, methods=["GET"]),
        Route(f"{prefix}/docs", docs, methods=["GET"]),
        Mount(f"{prefix}/docs/static", StaticFiles(directory=swagger_ui_bundle.swagger_ui_path)),
    ]
