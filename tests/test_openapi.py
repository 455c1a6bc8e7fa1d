"""/openapi.json describes every route; /docs works with no network (no CDN)."""

from __future__ import annotations

import os
import re
from typing import Any

import httpx
import pytest

from fleetwatch.api.openapi import GLANCES_ROUTES
from fleetwatch.api.openapi_site import walk
from fleetwatch.app import Hub
from fleetwatch.collect.registry import PLUGIN_NAMES

pytestmark = pytest.mark.anyio

SAMPLE_ARGS = {
    "{plugin}": "cpu", "{nb}": "1", "{item}": "total", "{key}": "0", "{value}": "0",
    "{pid}": str(os.getpid()), "{section}": "server",
}  # fmt: skip
LIST_SAMPLES = {"{plugin}": "percpu", "{item}": "cpu_number"}


async def spec(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/openapi.json")
    assert response.status_code == 200
    data: dict[str, Any] = response.json()
    return data


async def test_every_plugin_has_a_path_with_its_fields(client: httpx.AsyncClient) -> None:
    paths = (await spec(client))["paths"]
    for name in PLUGIN_NAMES:
        assert f"/api/4/{name}" in paths
    cpu = paths["/api/4/cpu"]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
    assert cpu["properties"]["total"]["x-unit"] == "percent"
    assert "ctx_switches_rate_per_sec" in cpu["properties"]
    net = paths["/api/4/network"]["get"]["responses"]["200"]["content"]["application/json"]
    assert net["schema"]["type"] == "array"


async def test_every_route_is_documented_with_its_parameters(client: httpx.AsyncClient) -> None:
    paths = (await spec(client))["paths"]
    for route in GLANCES_ROUTES:
        entry = paths["/api/4" + route.path]
        for method in route.methods:
            operation = entry[method.lower()]
            declared = {p["name"] for p in operation["parameters"]}
            assert declared == set(re.findall(r"{(\w+)}", route.path)), route.path
            assert "200" in operation["responses"]


@pytest.mark.parametrize("route", GLANCES_ROUTES, ids=lambda r: f"{r.methods[0]} {r.path}")
async def test_each_documented_route_answers(client: httpx.AsyncClient, route: Any) -> None:
    """A documented route that the dispatcher does not serve would be a lie in the docs."""
    samples = dict(SAMPLE_ARGS)
    if route.path.startswith("/{plugin}/top") or "/value/" in route.path or "{key}" in route.path:
        samples.update(LIST_SAMPLES)
    if route.path == "/{plugin}/{item}/{key}":
        samples.update({"{item}": "total"})
    if route.path == "/args/{item}":
        samples["{item}"] = "port"
    if route.path == "/config/{section}/{item}":
        samples["{item}"] = "port"
    path = route.path
    for name, value in samples.items():
        path = path.replace(name, value)
    response = await client.request(route.methods[0], "/api/4" + path)
    assert response.status_code == 200, (path, response.text)


async def test_docs_page_is_served_offline(client: httpx.AsyncClient) -> None:
    page = await client.get("/docs")
    assert page.status_code == 200
    scripts = re.findall(r'(?:src|href)="([^"]+)"', page.text)
    assert scripts
    for url in scripts:
        assert url.startswith("/"), f"{url} would need the network"
        asset = await client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 1000
    assert '"/openapi.json"' in page.text


async def test_every_framework_route_is_documented(client: httpx.AsyncClient, hub: Hub) -> None:
    """The families beside /api/4 (v1, TrueCommand, OP5...) come from the router itself."""
    paths = (await spec(client))["paths"]
    for path, route in walk(hub.site.routes):
        clean = re.sub(r"{(\w+):\w+}", r"{\1}", path)
        for method in route.methods or ():
            if method != "HEAD":
                assert method.lower() in paths[clean], f"{method} {clean} is not in /openapi.json"
    login = paths["/api/v1/login"]["post"]
    assert login["tags"] == ["Rocket.Chat-style API (/api/v1)"]
    assert paths["/api/external/submit_stats"]["put"]["summary"]
