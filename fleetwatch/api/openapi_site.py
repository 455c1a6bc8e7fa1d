"""The OpenAPI paths of the framework-routed families, read off the router itself.

Enumerating the mounted Starlette apps means a new route is documented the moment it exists:
its methods, its path parameters, and the first line of its handler's docstring. A handler may
add query parameters and its answer's schema as an ``openapi`` attribute (the list endpoints do).
"""

from __future__ import annotations

import inspect
import re
from collections.abc import Iterator
from typing import Any

from starlette.applications import Starlette
from starlette.routing import BaseRoute, Mount, Route

FAMILY_TAGS = (
    ("/api/v1/", "Rocket.Chat-style API (/api/v1)"),
    ("/api/servers/", "TrueCommand token calls (/api/servers)"),
    ("/api/external/", "TrueCommand external hooks (/api/external)"),
    ("/api/command/", "OP5 commands (/api/command)"),
    ("/api/status/", "OP5 status (/api/status)"),
    ("/api/filter/", "OP5 filters (/api/filter)"),
)
ERROR = {"type": "object", "description": "The family's error shape (see the README)."}


def walk(routes: list[BaseRoute], prefix: str = "") -> Iterator[tuple[str, Route]]:
    for route in routes:
        if isinstance(route, Mount) and isinstance(route.app, Starlette):
            yield from walk(route.app.routes, prefix + route.path)
        elif isinstance(route, Route):
            yield prefix + route.path, route


def _summary(route: Route) -> str:
    doc = inspect.getdoc(route.endpoint) or ""
    return doc.splitlines()[0] if doc else route.name.replace("_", " ")


def _tag(path: str) -> str:
    for start, tag in FAMILY_TAGS:
        if start in path:
            return tag
    return "Hub"


def site_paths(routes: list[BaseRoute]) -> dict[str, Any]:
    paths: dict[str, Any] = {}
    for path, route in walk(routes):
        params = [
            {"name": name, "in": "path", "required": True, "schema": {"type": "string"}}
            for name in re.findall(r"{(\w+)(?::\w+)?}", path)
        ]
        clean = re.sub(r"{(\w+):\w+}", r"{\1}", path)
        entry = paths.setdefault(clean, {})
        for method in sorted(route.methods or ()):
            if method == "HEAD":
                continue
            op_id = f"{method.lower()}{re.sub(r'[^A-Za-z0-9]+', '_', clean)}"
            extra = getattr(route.endpoint, "openapi", {})
            entry[method.lower()] = {
                "summary": _summary(route),
                "operationId": op_id,
                "tags": [_tag(clean)],
                "parameters": params + extra.get("parameters", []),
                "responses": {
                    "200": {
                        "description": "OK",
                        "content": {"application/json": {"schema": extra.get("schema", {})}},
                    },
                    "400": {"description": "Bad input: names the field", "content": _error()},
                    "401": {"description": "No or bad credentials", "content": _error()},
                    "403": {"description": "Missing permission: names it", "content": _error()},
                },
            }
    return paths


def _error() -> dict[str, Any]:
    return {"application/json": {"schema": ERROR}}
