"""Console sessions and CSRF, in process, on SQLite and PostgreSQL: the cookie, the token, the
ways a session ends, and anonymous access as ``/api/4`` has it."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hubs import CHEAP_HASHING, add_user, client_for, started

from fleetwatch.app import Hub, build_hub
from fleetwatch.config import load_config
from fleetwatch.web.session import csrf_token

pytestmark = pytest.mark.anyio

CSRF = re.compile(r'name="csrf" value="([0-9a-f]+)"')


def console_hub(data_dir: Path, database: str = "", **settings: Any) -> Hub:
    values: dict[tuple[str, str], Any] = {("storage", "data_dir"): str(data_dir)}
    if database:
        values[("storage", "database")] = database
    for key, value in settings.items():
        section, _, name = key.partition("__")
        values[(section, name)] = value
    hub = build_hub(load_config(env={}, flags=values))
    hub.auth.hashing = hub.admin.hashing = CHEAP_HASHING
    return hub


@pytest.fixture
async def hub(store_url: str, tmp_path: Path) -> AsyncIterator[Hub]:
    database = "" if store_url.startswith("sqlite") else store_url
    the_hub = await started(console_hub(tmp_path, database))
    await add_user(the_hub, "alice", "alice-password", "admin")
    await add_user(the_hub, "rita", "rita-password", "readonly")
    yield the_hub
    await the_hub.store.close()


async def sign_in(client: httpx.AsyncClient, name: str, password: str) -> httpx.Response:
    form = await client.get("/login")
    token = CSRF.search(form.text)
    assert token is not None
    return await client.post(
        "/login", data={"csrf": token[1], "name": name, "password": password, "next": ""}
    )


def session_of(client: httpx.AsyncClient) -> str:
    value = client.cookies.get("fleetwatch_session")
    assert value
    return value


async def test_signing_in_sets_a_strict_http_only_cookie(hub: Hub) -> None:
    async with client_for(hub) as client:
        answer = await sign_in(client, "alice", "alice-password")
        assert answer.status_code == 303
        assert answer.headers["location"] == "/"
        cookie = next(c for c in answer.headers.get_list("set-cookie") if "session" in c)
        assert "HttpOnly" in cookie
        assert "SameSite=Strict" in cookie
        assert "Secure" not in cookie  # plain HTTP here; under TLS it is added
        page = await client.get("/")
        assert page.status_code == 200
        assert "script-src 'self'" in page.headers["content-security-policy"]
        assert "alice" in page.text


async def test_a_wrong_password_opens_no_session(hub: Hub) -> None:
    async with client_for(hub) as client:
        answer = await sign_in(client, "alice", "not-her-password")
        assert answer.status_code == 401
        assert "Wrong user name or password" in answer.text
        assert "fleetwatch_session" not in client.cookies


async def test_the_login_form_needs_its_csrf_token(hub: Hub) -> None:
    async with client_for(hub) as client:
        await client.get("/login")
        answer = await client.post(
            "/login", data={"csrf": "0" * 64, "name": "alice", "password": "alice-password"}
        )
        assert answer.status_code == 403
        assert "fleetwatch_session" not in client.cookies


async def test_a_state_change_without_the_csrf_token_is_refused(hub: Hub) -> None:
    async with client_for(hub) as client:
        await sign_in(client, "alice", "alice-password")
        secret = session_of(client)
        refused = await client.post("/api/v1/systems.create", json={"name": "web1"})
        assert refused.status_code == 403
        assert refused.json()["error"] == "csrf"
        wrong = await client.post(
            "/api/v1/systems.create", json={"name": "web1"}, headers={"x-csrf-token": "f" * 64}
        )
        assert wrong.status_code == 403
        assert await hub.store.get_system("web1") is None
        done = await client.post(
            "/api/v1/systems.create", json={"name": "web1"},
            headers={"x-csrf-token": csrf_token(secret)},
        )  # fmt: skip
        assert done.status_code == 200
        assert done.json()["token"]


async def test_a_form_post_may_carry_the_token_as_a_field(hub: Hub) -> None:
    async with client_for(hub) as client:
        await sign_in(client, "alice", "alice-password")
        token = csrf_token(session_of(client))
        answer = await client.post("/api/v1/systems.create", data={"name": "web2", "csrf": token})
        assert answer.status_code == 200
        assert (await hub.store.get_system("web2")) is not None


async def test_a_readonly_user_is_refused_by_the_hub_even_with_the_token(hub: Hub) -> None:
    async with client_for(hub) as client:
        await sign_in(client, "rita", "rita-password")
        page = await client.get("/")
        assert page.status_code == 200
        assert "Admin" not in page.text
        forged = await client.post(
            "/api/v1/systems.create", json={"name": "web3"},
            headers={"x-csrf-token": csrf_token(session_of(client))},
        )  # fmt: skip
        assert forged.status_code == 403
        assert "manage-systems" in forged.text


async def test_logout_ends_the_session(hub: Hub) -> None:
    async with client_for(hub) as client:
        await sign_in(client, "alice", "alice-password")
        secret = session_of(client)
        out = await client.post("/logout", data={"csrf": csrf_token(secret)})
        assert out.status_code == 303
        assert "fleetwatch_session" not in client.cookies
    async with client_for(hub) as again:
        again.cookies.set("fleetwatch_session", secret)
        page = await again.get("/api/v1/me")
        assert page.status_code == 401


async def test_a_password_change_ends_the_session(hub: Hub) -> None:
    async with client_for(hub) as client:
        await sign_in(client, "alice", "alice-password")
        assert (await client.get("/api/v1/me")).status_code == 200
        changed = await client.post(
            "/api/v1/users.setPassword", json={"username": "alice", "password": "a-new-password"},
            headers={"x-csrf-token": csrf_token(session_of(client))},
        )  # fmt: skip
        assert changed.status_code == 200, changed.text
        assert (await client.get("/api/v1/me")).status_code == 401
        page = await client.get("/")
        assert page.status_code in (200, 303)  # anonymous on loopback, or sent to sign in


async def test_anonymous_reads_follow_api4(tmp_path: Path) -> None:
    hub = await started(console_hub(tmp_path / "a"))
    try:
        async with client_for(hub) as client:
            assert (await client.get("/api/4/cpu")).status_code == 200
            page = await client.get("/")
            assert page.status_code == 200
            assert "Sign in" in page.text
            assert "Sign out" not in page.text
            assert (await client.get("/events")).status_code == 303  # view-events needs a user
    finally:
        await hub.store.close()
    closed = await started(console_hub(tmp_path / "b", auth__anonymous_read="never"))
    try:
        async with client_for(closed) as client:
            assert (await client.get("/api/4/cpu")).status_code == 401
            page = await client.get("/")
            assert page.status_code == 303
            assert page.headers["location"].startswith("/login?next=")
    finally:
        await closed.store.close()


async def test_an_unchanged_page_answers_304(hub: Hub) -> None:
    async with client_for(hub) as client:
        await sign_in(client, "alice", "alice-password")
        first = await client.get("/")
        again = await client.get("/", headers={"if-none-match": first.headers["etag"]})
        assert again.status_code == 304
        assert again.content == b""


async def test_clearing_events_needs_clear_events(hub: Hub) -> None:
    async with client_for(hub) as client:
        await sign_in(client, "rita", "rita-password")
        token = {"x-csrf-token": csrf_token(session_of(client))}
        refused = await client.post("/api/v1/events.clear", json={}, headers=token)
        assert refused.status_code == 403
    async with client_for(hub) as client:
        await sign_in(client, "alice", "alice-password")
        token = {"x-csrf-token": csrf_token(session_of(client))}
        bad = await client.post("/api/v1/events.clear", json={"state": "LOUD"}, headers=token)
        assert bad.status_code == 400
        assert "state" in bad.json()["error"]
        unknown = await client.post("/api/v1/events.clear", json={"system": "x"}, headers=token)
        assert unknown.status_code == 404
        done = await client.post("/api/v1/events.clear", json={}, headers=token)
        assert done.json() == {"cleared": 0, "success": True}


async def test_the_cookie_is_secure_under_tls(hub: Hub) -> None:
    transport = httpx.ASGITransport(app=hub.app)
    async with httpx.AsyncClient(transport=transport, base_url="https://127.0.0.1") as client:
        answer = await sign_in(client, "alice", "alice-password")
        cookie = next(c for c in answer.headers.get_list("set-cookie") if "session" in c)
        assert "; Secure" in cookie


async def test_a_next_page_elsewhere_is_not_followed(hub: Hub) -> None:
    async with client_for(hub) as client:
        form = await client.get("/login?next=//evil.example/")
        token = CSRF.search(form.text)
        assert token is not None
        fields = {"csrf": token[1], "name": "alice", "password": "alice-password",
                  "next": "//evil.example/"}  # fmt: skip
        answer = await client.post("/login", data=fields)
        assert answer.headers["location"] == "/"


async def test_the_fleet_data_answers_304_until_something_changes(hub: Hub) -> None:
    async with client_for(hub) as client:
        await sign_in(client, "alice", "alice-password")
        first = await client.get("/fleet.json")
        assert first.status_code == 200
        body = first.json()
        assert body["columns"][0] == "name"
        assert body["rows"]  # the hub's own machine at least
        tag = {"if-none-match": first.headers["etag"]}
        assert (await client.get("/fleet.json", headers=tag)).status_code == 304
        await hub.store.add_system("web9")
        changed = await client.get("/fleet.json", headers=tag)
        assert changed.status_code == 200
        assert "web9" in [row[0] for row in changed.json()["rows"]]
        await hub.store.tag_system("web9", add=["prod"])
        retagged = await client.get(
            "/fleet.json", headers={"if-none-match": changed.headers["etag"]}
        )
        assert retagged.json()["tags"] == ["prod"]


async def test_the_checks_board_offers_to_delete_downtimes_to_come(hub: Hub) -> None:
    store = hub.store
    await store.add_check_object("host", "nas1")
    svc = await store.add_check_object("service", "nas1", "Backup")
    await store.add_check_object("service", "nas1", "Disk")
    now = 1_900_000_000.0  # in the future: scheduled, not under way
    later = await store.add_downtime(
        svc.id, "alice", "disk swap", start_time=now, end_time=now + 3600, fixed=True,
        duration=0, at=now - 60,
    )  # fmt: skip
    assert await store.pending_downtimes() == [later]
    async with client_for(hub) as client:
        await sign_in(client, "alice", "alice-password")
        board = await client.get("/checks")
    assert board.status_code == 200
    assert f"Delete downtime #{later.id}" in board.text
    assert "(to come) disk swap" in board.text
    assert board.text.count("Delete downtime #") == 1  # only Backup has one
