"""Browser-borne attacks (issue #17, item 5): state changes a browser makes for another site,
and the Host checks of a loopback-bound hub. The non-browser clients pass as before."""

from __future__ import annotations

import socket
from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from hubs import add_user, client_for, make_hub, started
from serving import ServeProcess

from fleetwatch.api.errors import CrossSiteRefused
from fleetwatch.api.families import render_for
from fleetwatch.app import Hub
from fleetwatch.config import ConfigError

pytestmark = pytest.mark.anyio

EVIL = "https://evil.example"
# What a form on another site makes a browser send (a "simple" request: no CORS preflight).
FORM_FROM_EVIL = {"origin": EVIL, "sec-fetch-site": "cross-site", "sec-fetch-mode": "navigate"}


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[Hub]:
    hub = await started(make_hub(tmp_path, allowed_origins="https://dash.example:8443"))
    yield hub
    await hub.store.close()


@pytest.fixture
async def web(hub: Hub) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(hub) as c:
        yield c


async def test_a_page_elsewhere_cannot_create_an_admin_with_the_browsers_basic_credentials(
    hub: Hub, web: httpx.AsyncClient
) -> None:
    admin = await add_user(hub, "root", "pw-root", "admin")
    fields = {"username": "mallory", "password": "pw-mallory", "groups": "admin"}
    for extra in (FORM_FROM_EVIL, {"origin": EVIL}, {"sec-fetch-site": "cross-site"}):
        got = await web.post("/api/v1/users.create", data=fields, headers={**admin, **extra})
        assert got.status_code == 403, got.text
        body = got.json()
        assert body["success"] is False  # Rocket.Chat's shape on /api/v1
        assert "may not change state" in body["error"]
    assert await hub.store.get_user("mallory") is None
    # The same browser on the hub's own page, and curl with the same form, still may.
    own = {"origin": "http://127.0.0.1", "sec-fetch-site": "same-origin"}
    made = await web.post("/api/v1/users.create", json=fields, headers={**admin, **own})
    assert made.status_code == 200, made.text
    fields["username"] = "mallory2"
    assert (await web.post("/api/v1/users.create", data=fields, headers=admin)).status_code == 200


async def test_a_page_elsewhere_cannot_clear_events_anonymously_on_loopback(
    web: httpx.AsyncClient,
) -> None:
    for path in ("/api/4/events/clear/all", "/api/4/events/clear/warning"):
        got = await web.post(path, headers=FORM_FROM_EVIL, content=b"x=1")
        assert got.status_code == 403
        assert list(got.json()) == ["detail"]  # Glances' shape
    assert (await web.post("/api/4/events/clear/all")).status_code == 200  # curl's


@pytest.mark.parametrize(
    ("path", "key"),
    [("/api/command/PROCESS_SERVICE_CHECK_RESULT", "full_error"),  # OP5
     ("/api/external/submit_stats", "code"),  # TrueCommand
     ("/api/config/host", "full_error")],
)  # fmt: skip
async def test_each_family_refuses_in_its_own_shape(
    web: httpx.AsyncClient, path: str, key: str
) -> None:
    got = await web.post(path, json={}, headers={"origin": "null"})
    assert got.status_code == 403
    assert key in got.json()


async def test_same_site_needs_the_hubs_own_origin_and_allowed_origins_pass(
    web: httpx.AsyncClient,
) -> None:
    path = "/api/4/events/clear/all"
    sibling = {"origin": "https://other.example.com", "sec-fetch-site": "same-site"}
    assert (await web.post(path, headers=sibling)).status_code == 403
    ours = {"origin": "http://127.0.0.1", "sec-fetch-site": "same-site"}
    assert (await web.post(path, headers=ours)).status_code == 200
    listed = {"origin": "https://dash.example:8443", "sec-fetch-site": "cross-site"}
    assert (await web.post(path, headers=listed, json={})).status_code == 200
    # A read is never refused: cross-origin reads are the browser's CORS business.
    assert (await web.get("/api/4/status", headers=FORM_FROM_EVIL)).status_code == 200


async def test_a_browsers_body_to_the_api_must_be_json(web: httpx.AsyncClient) -> None:
    own = {"origin": "http://127.0.0.1", "sec-fetch-site": "same-origin"}
    for kind in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data"):
        got = await web.post("/api/v1/login", content=b'{"user": "a", "password": "b"}',
                             headers={**own, "content-type": kind})  # fmt: skip
        assert got.status_code == 415, kind
        assert "application/json" in got.json()["error"]
    # The same body from curl (no Origin, no Sec-Fetch-Site) is read as before.
    form = {"content-type": "application/x-www-form-urlencoded"}
    curl = await web.post("/api/v1/login", content=b'{"user": "a", "password": "b"}', headers=form)
    assert curl.status_code == 401


def test_allowed_origins_must_be_origins(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match=r"server\.allowed_origins: 'evil\.example'"):
        make_hub(tmp_path, allowed_origins="https://ok.example, evil.example")


@pytest.mark.parametrize(
    "headers",
    [[("host", "127.0.0.1:1 evil.com")],
     [("host", "127.0.0.1"), ("host", "evil.com")],
     [("host", "127.0.0.1,evil.com")]],
)  # fmt: skip
async def test_a_malformed_or_repeated_host_is_400_on_loopback(
    web: httpx.AsyncClient, headers: list[tuple[str, str]]
) -> None:
    got = await web.send(httpx.Request("GET", "http://127.0.0.1/api/4/status", headers=headers))
    assert got.status_code == 400
    assert "Host" in got.json()["detail"]


def raw_exchange(url: str, request: bytes) -> bytes:
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=5) as sock:
        sock.sendall(request)
        chunks = []
        while chunk := sock.recv(65536):  # Connection: close: the hub ends it
            chunks.append(chunk)
        return b"".join(chunks)


@pytest.mark.e2e
@pytest.mark.parametrize("engine", ["granian", "uvicorn"])
def test_host_checks_over_the_wire(tmp_path: Path, engine: str) -> None:
    with ServeProcess(tmp_path, env={"FLEETWATCH_SERVER_HTTP_ENGINE": engine}) as served:
        spaced = raw_exchange(served.url, b"GET /api/4/status HTTP/1.1\r\nConnection: close\r\n"
                              b"Host: 127.0.0.1:1 evil.com\r\n\r\n")  # fmt: skip
        assert spaced.startswith(b"HTTP/1.1 400"), spaced
        twice = raw_exchange(served.url, b"GET /api/4/status HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                             b"Host: evil.com\r\nConnection: close\r\n\r\n")  # fmt: skip
        assert twice.startswith(b"HTTP/1.1 400"), twice
        absolute = raw_exchange(served.url, b"GET http://evil.com/api/4/status HTTP/1.1\r\n"
                                b"Host: 127.0.0.1\r\nConnection: close\r\n\r\n")  # fmt: skip
        # uvicorn refuses the URL target; Granian drops its authority and answers by Host.
        assert absolute.startswith(b"HTTP/1.1 400" if engine == "uvicorn" else b"HTTP/1.1 200")
        rebound = raw_exchange(served.url, b"GET http://evil.com/api/4/status HTTP/1.1\r\n"
                               b"Host: evil.com\r\nConnection: close\r\n\r\n")  # fmt: skip
        assert rebound.split(b" ")[1] in (b"400", b"421"), rebound


def test_a_refusal_before_routing_takes_the_familys_shape_under_a_url_prefix() -> None:
    refused = CrossSiteRefused("no")
    assert render_for("/glances/api/v1/login", "/glances", refused)[1]["success"] is False
    assert "full_error" in render_for("/glances/api/command/X", "/glances", refused)[1]
    assert render_for("/glances/api/external/submit_stats", "/glances", refused)[1]["code"] == "403"
    assert render_for("/glances/api/4/status", "/glances", refused)[1] == {"detail": "no"}
    assert render_for("/api/v1", "", refused)[1]["success"] is False  # the family's root too
