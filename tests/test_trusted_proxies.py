"""Clients behind a trusted reverse proxy are told apart by ``X-Forwarded-For``
(``server.trusted_proxies``): failed logins and requests in progress count per real client, a
client reaching the hub directly cannot choose its address, and a loopback-bound hub behind a
proxy grants nothing anonymously and answers the proxy's public Host."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest
from hubs import add_user, basic, make_hub, started

from fleetwatch.api.proxies import parse_trusted_proxies
from fleetwatch.app import Hub
from fleetwatch.auth.ratelimit import ADDRESS_FACTOR
from fleetwatch.config import ConfigError

pytestmark = pytest.mark.anyio
PROXY = "10.1.2.3"
MAX_FAILURES = 2


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[Hub]:
    """Bound to loopback (where anonymous reads are Glances' default), behind 10.1.2.0/24."""
    the_hub = await started(make_hub(
        tmp_path, trusted_proxies=" 10.1.2.0/24, ::1 ", auth_max_failures=MAX_FAILURES,
    ))  # fmt: skip
    yield the_hub
    await the_hub.stop()


def peer(hub: Hub, address: str, **headers: str) -> httpx.AsyncClient:
    transport = httpx.ASGITransport(app=hub.app, client=(address, 40000))
    return httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1", headers=headers)


async def spray(client: httpx.AsyncClient) -> None:
    """Fail with different users until the address's ceiling holds a fresh password back."""
    for n in range(MAX_FAILURES * ADDRESS_FACTOR):
        got = await client.get("/api/4/cpu", headers=basic(f"user{n}", "guess"))
        assert got.status_code == 401, got.text


async def test_a_sprayer_behind_the_proxy_does_not_stop_the_others(hub: Hub) -> None:
    owner = await add_user(hub, "olga", "olgas password", "readonly")
    async with peer(hub, PROXY, **{"x-forwarded-for": "203.0.113.9"}) as sprayer:
        await spray(sprayer)
        assert (await sprayer.get("/api/4/cpu", headers=owner)).status_code == 429
    # Another client through the same proxy: its own address, its own count.
    async with peer(hub, PROXY, **{"x-forwarded-for": "198.51.100.4"}) as office:
        assert (await office.get("/api/4/cpu", headers=owner)).status_code == 200
        login = await office.post("/api/v1/login", json={"username": "olga",
                                                         "password": "olgas password"})  # fmt: skip
        assert login.status_code == 200


async def test_forwarded_headers_from_anyone_else_are_ignored(hub: Hub) -> None:
    owner = await add_user(hub, "olga", "olgas password", "readonly")
    # A client reaching the hub itself names a new address each time: all one address still.
    async with peer(hub, "192.0.2.50") as direct:
        for n in range(MAX_FAILURES * ADDRESS_FACTOR):
            forged = {"x-forwarded-for": f"203.0.113.{n}", **basic(f"user{n}", "guess")}
            assert (await direct.get("/api/4/cpu", headers=forged)).status_code == 401
        forged = {"x-forwarded-for": "198.51.100.77", **owner}
        assert (await direct.get("/api/4/cpu", headers=forged)).status_code == 429


async def test_the_nearest_address_the_proxies_did_not_add_is_the_client(hub: Hub) -> None:
    owner = await add_user(hub, "olga", "olgas password", "readonly")
    # The client sent its own X-Forwarded-For (anything); the proxy appended what it saw.
    chain = {"x-forwarded-for": "198.51.100.4, 203.0.113.9, 10.1.2.7"}
    async with peer(hub, PROXY, **chain) as sprayer:
        await spray(sprayer)
    async with peer(hub, PROXY, **{"x-forwarded-for": "203.0.113.9"}) as real:
        assert (await real.get("/api/4/cpu", headers=owner)).status_code == 429
    async with peer(hub, PROXY, **{"x-forwarded-for": "198.51.100.4"}) as named:
        assert (await named.get("/api/4/cpu", headers=owner)).status_code == 200


async def test_behind_a_proxy_loopback_grants_nothing_anonymously(hub: Hub) -> None:
    async with peer(hub, PROXY, **{"x-forwarded-for": "203.0.113.9"}) as anyone:
        assert (await anyone.get("/api/4/cpu")).status_code == 401
    async with peer(hub, "127.0.0.1") as local:
        assert (await local.get("/api/4/cpu")).status_code == 401


async def test_the_proxys_public_host_is_answered_and_a_rebinding_one_is_not(hub: Hub) -> None:
    owner = await add_user(hub, "olga", "olgas password", "readonly")
    public = {"host": "fleet.example.org", "x-forwarded-for": "198.51.100.4", **owner}
    async with peer(hub, PROXY) as proxy:
        assert (await proxy.get("/api/4/status", headers=public)).status_code == 200
    async with peer(hub, "127.0.0.1") as browser:  # DNS rebinding: not through the proxy
        got = await browser.get("/api/4/status", headers=public)
        assert got.status_code == 421


async def test_the_scheme_the_proxy_served_decides_the_session_cookie(hub: Hub) -> None:
    await add_user(hub, "olga", "olgas password", "admin")
    for scheme, secure in (("https", True), ("http", False)):
        served = {"x-forwarded-for": "198.51.100.4", "x-forwarded-proto": scheme}
        async with peer(hub, PROXY, **served) as proxy:
            page = await proxy.get("/login")
            token = page.text.split('name="csrf" value="', 1)[1].split('"', 1)[0]
            form = {"csrf": token, "name": "olga", "password": "olgas password", "next": ""}
            # By hand: httpx sends no Secure cookie to the plain-HTTP URL of the proxy's leg.
            cookies = "; ".join(c.split(";", 1)[0] for c in page.headers.get_list("set-cookie"))
            signed = await proxy.post("/login", data=form, headers={"cookie": cookies})
            assert signed.status_code in (302, 303), signed.text
            session = next(c for c in signed.headers.get_list("set-cookie") if "session" in c)
            assert ("; Secure" in session) is secure


def test_a_bad_entry_is_refused_by_name() -> None:
    assert [str(n) for n in parse_trusted_proxies("10.0.0.1, 192.168.0.0/16,")] == [
        "10.0.0.1/32", "192.168.0.0/16",
    ]  # fmt: skip
    with pytest.raises(ValueError, match=r"server\.trusted_proxies: 'proxy\.lan'"):
        parse_trusted_proxies("10.0.0.1, proxy.lan")


def test_a_hub_with_a_bad_entry_does_not_start(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="trusted_proxies"):
        make_hub(tmp_path, trusted_proxies="10.0.0.300")
