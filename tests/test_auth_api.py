"""Identity over HTTP, in process: login, sessions, tokens, error shapes, limits, admin calls."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hubs import CHEAP_HASHING, add_user, basic, client_for, make_hub, started

from fleetwatch.app import Hub
from fleetwatch.auth.admin import Actor, Admin
from fleetwatch.store import open_store

pytestmark = pytest.mark.anyio

LOGGED_OUT = {
    "success": False,
    "status": "error",
    "message": "You must be logged in to do this.",
    "error": "You must be logged in to do this.",
}
LOGIN_FAILED = {
    "success": False,
    "status": "error",
    "error": "Unauthorized",
    "message": "Unauthorized",
}


@pytest.fixture
async def open_hub(tmp_path: Path) -> AsyncIterator[Hub]:
    """A hub bound to every address: nothing is anonymous."""
    hub = await started(make_hub(tmp_path, bind="0.0.0.0", auth_max_failures=3))
    yield hub
    await hub.store.close()


@pytest.fixture
async def web(open_hub: Hub) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(open_hub) as c:
        yield c


def session(body: dict[str, Any]) -> dict[str, str]:
    return {"x-user-id": body["data"]["userId"], "x-auth-token": body["data"]["authToken"]}


async def test_login_json_and_form_me_and_logout(open_hub: Hub, web: httpx.AsyncClient) -> None:
    await add_user(open_hub, "alice", "correct horse", "readonly")
    got = await web.post("/api/v1/login", json={"username": "alice", "password": "correct horse"})
    assert got.status_code == 200
    body = got.json()
    assert body["status"] == "success"
    assert body["success"] is True
    assert body["data"]["me"]["username"] == "alice"
    assert body["data"]["authToken"].startswith("fwu_")
    headers = session(body)
    me = (await web.get("/api/v1/me", headers=headers)).json()
    assert me["username"] == "alice"
    assert "view-statistics" in me["permissions"]
    assert (await web.get("/api/4/cpu", headers=headers)).status_code == 200

    form = await web.post("/api/v1/login", data={"user": "alice", "password": "correct horse"})
    assert form.status_code == 200
    other = session(form.json())

    assert (await web.post("/api/v1/logout", headers=headers)).json()["status"] == "success"
    gone = await web.get("/api/v1/me", headers=headers)
    assert gone.status_code == 401
    assert gone.json() == LOGGED_OUT
    assert (await web.get("/api/v1/me", headers=other)).status_code == 200


async def test_login_failures_are_exact_and_audited(open_hub: Hub, web: httpx.AsyncClient) -> None:
    await add_user(open_hub, "bob", "right password")
    for body in ({"username": "bob", "password": "wrong password"}, {"username": "bob"}, {}):
        got = await web.post("/api/v1/login", json=body)
        assert got.status_code == 401
        assert got.json() == LOGIN_FAILED
    actions = [(e.actor, e.action) for e in await open_hub.store.list_audit()]
    assert ("bob", "login.failed") in actions
    assert all("wrong password" not in e.detail for e in await open_hub.store.list_audit())


async def test_a_login_token_needs_its_own_user_id(open_hub: Hub, web: httpx.AsyncClient) -> None:
    await add_user(open_hub, "carol", "carols password")
    await add_user(open_hub, "dan", "dans password")
    carol = session(
        (
            await web.post("/api/v1/login", json={"user": "carol", "password": "carols password"})
        ).json()
    )
    dan = (await web.get("/api/v1/me", headers=basic("dan", "dans password"))).json()
    forged = {**carol, "x-user-id": dan["_id"]}
    assert (await web.get("/api/v1/me", headers=forged)).status_code == 401
    assert (
        await web.get("/api/v1/me", headers={"x-user-id": carol["x-user-id"]})
    ).status_code == 401


async def test_401_shapes_per_family(web: httpx.AsyncClient) -> None:
    glances = await web.get("/api/4/cpu")
    assert glances.status_code == 401
    assert set(glances.json()) == {"detail"}
    assert glances.headers["www-authenticate"].startswith("Basic")
    assert (await web.get("/api/4/status")).status_code == 200
    bad = {"authorization": "Bearer fwu_nope"}
    rocket = await web.get("/api/v1/me", headers=bad)
    assert rocket.status_code == 401
    assert rocket.json() == LOGGED_OUT
    truecommand = await web.post("/api/servers/list_tokens", json={"tvid": "x"})
    assert truecommand.status_code == 401
    assert truecommand.json()["code"] == "401"
    assert truecommand.json()["message"] == "Unauthorized"
    assert set(truecommand.json()) == {"error", "code", "message"}


async def test_403_names_the_permission(open_hub: Hub, web: httpx.AsyncClient) -> None:
    headers = await add_user(open_hub, "erin", "erins password", "readonly")
    denied = await web.get("/api/v1/users.list", headers=headers)
    assert denied.status_code == 403
    assert denied.json()["error"] == "error-not-allowed"  # Rocket.Chat's code
    assert denied.json()["message"] == "Missing permission: manage-users"
    assert denied.json()["success"] is False
    glances = await web.post("/api/4/events/clear/all", headers=headers)
    assert glances.status_code == 403
    assert glances.json() == {"detail": "Missing permission: clear-events"}
    servers = await web.post("/api/servers/list_tokens", headers=headers, json={"tvid": "x"})
    assert servers.status_code == 403
    assert servers.json()["error"] == "Missing permission: manage-systems"


async def test_system_and_personal_tokens(open_hub: Hub, web: httpx.AsyncClient) -> None:
    admin = await add_user(open_hub, "root", "root password", "admin")
    made = (await web.post("/api/v1/systems.create", headers=admin, json={"name": "web1"})).json()
    token = made["token"]
    assert token.startswith("fws_")
    as_system = {"authorization": basic("", token)["authorization"]}
    me = (await web.get("/api/v1/me", headers=as_system)).json()
    assert me["type"] == "system"
    assert me["username"] == "web1"
    # A system token reads nothing of the hub's own stats.
    assert (await web.get("/api/4/cpu", headers=as_system)).status_code == 403

    personal = await web.post("/api/v1/users.generatePersonalAccessToken", headers=admin,
                              json={"tokenName": "ci"})  # fmt: skip
    bearer = {"authorization": f"Bearer {personal.json()['token']}"}
    assert (await web.get("/api/4/cpu", headers=bearer)).status_code == 200
    empty_user = basic("", personal.json()["token"])
    assert (await web.get("/api/v1/me", headers=empty_user)).json()["username"] == "root"


async def test_truecommand_token_calls(open_hub: Hub, web: httpx.AsyncClient) -> None:
    admin = await add_user(open_hub, "root", "root password", "admin")
    await web.post("/api/v1/systems.create", headers=admin, json={"name": "nas"})
    added = await web.post("/api/servers/add_tokens", headers=admin,
                           json={"tvid": "nas", "names": ["backup", "cron"]})  # fmt: skip
    assert added.status_code == 200
    secrets = added.json()["tokens"]
    assert set(secrets) == {"backup", "cron"}
    listed = (await web.get("/api/servers/list_tokens?tvid=nas", headers=admin)).json()
    assert [t["name"] for t in listed["tokens"]] == ["backup", "cron", "default"]
    assert all(t["prefix"] in secrets.get(t["name"], t["prefix"]) for t in listed["tokens"])
    assert all(secret not in str(listed) for secret in secrets.values())
    system = basic("", secrets["cron"])
    assert (await web.get("/api/v1/me", headers=system)).status_code == 200
    removed = await web.post("/api/servers/remove_tokens", headers=admin,
                             data={"tvid": "nas", "name": "cron"})  # fmt: skip
    assert removed.json()["removed"] == 1
    assert (await web.get("/api/v1/me", headers=system)).status_code == 401
    missing = await web.post("/api/servers/add_tokens", headers=admin, json={"names": "x"})
    assert missing.status_code == 400
    assert missing.json()["code"] == "400"


async def test_password_change_drops_cached_credentials(
    open_hub: Hub, web: httpx.AsyncClient
) -> None:
    admin = await add_user(open_hub, "root", "root password", "admin")
    old = await add_user(open_hub, "frank", "franks password", "readonly")
    assert (await web.get("/api/4/cpu", headers=old)).status_code == 200
    changed = await web.post("/api/v1/users.setPassword", headers=admin,
                             json={"username": "frank", "password": "a new password"})  # fmt: skip
    assert changed.status_code == 200
    assert (await web.get("/api/4/cpu", headers=old)).status_code == 401
    new = basic("frank", "a new password")
    assert (await web.get("/api/4/cpu", headers=new)).status_code == 200


async def test_failed_logins_are_rate_limited(open_hub: Hub, web: httpx.AsyncClient) -> None:
    await add_user(open_hub, "gina", "ginas password")
    for _ in range(3):
        assert (await web.get("/api/4/cpu", headers=basic("gina", "nope nope"))).status_code == 401
    limited = await web.get("/api/4/cpu", headers=basic("gina", "ginas password"))
    assert limited.status_code == 429
    assert int(limited.headers["retry-after"]) >= 1
    login = await web.post("/api/v1/login", json={"username": "gina", "password": "x"})
    assert login.status_code == 429
    assert int(login.headers["retry-after"]) >= 1


async def test_admin_calls_manage_users_and_groups(open_hub: Hub, web: httpx.AsyncClient) -> None:
    admin = await add_user(open_hub, "root", "root password", "admin")
    created = await web.post("/api/v1/users.create", headers=admin,
                             json={"username": "hank", "password": "hanks password"})  # fmt: skip
    assert created.status_code == 200
    short = await web.post("/api/v1/users.create", headers=admin,
                           json={"username": "ivan", "password": "short"})  # fmt: skip
    assert short.status_code == 400
    taken = await web.post("/api/v1/users.create", headers=admin,
                           json={"username": "hank", "password": "hanks password"})  # fmt: skip
    assert taken.status_code == 409
    viewers = {"name": "viewers", "permissions": ["view-statistics"]}
    group = await web.post("/api/v1/groups.create", headers=admin, json=viewers)
    assert group.status_code == 200
    joined = await web.post("/api/v1/groups.addUser", headers=admin,
                            json={"name": "viewers", "username": "hank"})  # fmt: skip
    assert joined.json()["changed"] is True
    hank = basic("hank", "hanks password")
    assert (await web.get("/api/4/cpu", headers=hank)).status_code == 200
    revoked = await web.post("/api/v1/groups.revoke", headers=admin,
                             json={"name": "viewers", "permission": "view-statistics"})  # fmt: skip
    assert revoked.status_code == 200
    assert (await web.get("/api/4/cpu", headers=hank)).status_code == 403
    builtin = await web.post("/api/v1/groups.grant", headers=admin,
                             json={"name": "readonly", "permission": "manage-users"})  # fmt: skip
    assert builtin.status_code == 400
    users = (await web.get("/api/v1/users.list", headers=admin)).json()["users"]
    assert [u["username"] for u in users] == ["hank", "root"]
    assert "password" not in str(users)
    assert (await web.post("/api/v1/users.delete", headers=admin, json={"username": "hank"})).json()
    assert (await web.get("/api/4/cpu", headers=hank)).status_code == 401
    audit = (await web.get("/api/v1/audit.list", headers=admin)).json()["entries"]
    assert {"user.add", "group.add", "group.revoke", "user.remove"} <= {e["action"] for e in audit}


async def test_changes_by_another_process_drop_the_cache(
    open_hub: Hub, web: httpx.AsyncClient
) -> None:
    headers = await add_user(open_hub, "kim", "kims password", "readonly")
    assert (await web.get("/api/4/cpu", headers=headers)).status_code == 200
    stop = asyncio.Event()
    watching = asyncio.create_task(open_hub.auth.watch(stop, interval=0.01))
    try:
        # The CLI's way: its own store on the same file, its own Admin.
        other = open_store(open_hub.store.url)
        await other.open()
        try:
            await asyncio.sleep(0.05)  # the watcher has read the current marker
            await Admin(other, CHEAP_HASHING).remove_user(Actor("cli:test", "local"), "kim")
        finally:
            await other.close()
        for _ in range(200):
            if (await web.get("/api/4/cpu", headers=headers)).status_code == 401:
                break
            await asyncio.sleep(0.01)
        assert (await web.get("/api/4/cpu", headers=headers)).status_code == 401
    finally:
        stop.set()
        await watching


async def test_changing_ones_own_password_needs_the_current_one(
    open_hub: Hub, web: httpx.AsyncClient
) -> None:
    headers = await add_user(open_hub, "lee", "lees password")
    wrong = {"password": "lees new password", "currentPassword": "not it"}
    refused = await web.post("/api/v1/users.setPassword", headers=headers, json=wrong)
    assert refused.status_code == 400
    assert "currentPassword" in refused.json()["error"]
    right = {"password": "lees new password", "currentPassword": "lees password"}
    assert (await web.post("/api/v1/users.setPassword", headers=headers, json=right)).json()[
        "success"
    ]
    other = await web.post("/api/v1/users.setPassword", headers=basic("lee", "lees new password"),
                           json={"username": "root", "password": "x" * 12})  # fmt: skip
    assert other.status_code == 403


async def test_a_system_token_is_cached_long_but_its_revocation_applies_at_once(
    open_hub: Hub, web: httpx.AsyncClient
) -> None:
    _, token = await open_hub.admin.add_system(Actor("test", "local"), "nas9")
    body = {"hostname": "nas9"}
    push = await web.put("/api/external/submit_stats", json=body, auth=("", token))
    assert push.json() == {"result": "success"}
    assert open_hub.auth.system_cache_seconds == 600  # the default, far beyond a push interval
    stop = asyncio.Event()
    watching = asyncio.create_task(open_hub.auth.watch(stop, interval=0.01))
    try:
        other = open_store(open_hub.store.url)  # the CLI's way: another store on the same file
        await other.open()
        try:
            await asyncio.sleep(0.05)
            await Admin(other, CHEAP_HASHING).revoke_system_tokens(
                Actor("cli:test", "local"), "nas9", ["default"]
            )
        finally:
            await other.close()
        for _ in range(200):
            refused = await web.put("/api/external/submit_stats", json=body, auth=("", token))
            if refused.status_code == 401:
                break
            await asyncio.sleep(0.01)
        assert refused.status_code == 401
    finally:
        stop.set()
        await watching
