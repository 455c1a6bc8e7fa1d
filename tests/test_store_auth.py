"""The identity part of the storage contract, against SQLite and PostgreSQL (``store`` fixture)."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from fleetwatch.auth.permissions import BUILTIN_GROUPS
from fleetwatch.auth.secrets import SYSTEM_TOKEN_PREFIX, USER_TOKEN_PREFIX, new_token
from fleetwatch.store import Conflict, NotFound, SQLiteStore, Store

pytestmark = pytest.mark.anyio

HASH = "$argon2id$v=19$m=8,t=1,p=1$c2FsdHNhbHQ$aGFzaGhhc2hoYXNoaGFzaA"


async def test_builtin_groups_come_with_the_schema(store: Store) -> None:
    groups = {group.name: group for group in await store.list_groups()}
    assert set(groups) == set(BUILTIN_GROUPS)
    for name, permissions in BUILTIN_GROUPS.items():
        assert set(groups[name].permissions) == permissions
        assert groups[name].builtin
        assert groups[name].members == ()


async def test_users_groups_and_permissions(store: Store) -> None:
    alice = await store.add_user("alice", HASH, ["readonly", "status_update"])
    assert alice.groups == ("readonly", "status_update")
    assert await store.get_user("alice") == alice
    assert await store.get_user_by_id(alice.id) == alice
    assert await store.user_permissions(alice.id) == (
        BUILTIN_GROUPS["readonly"] | BUILTIN_GROUPS["status_update"]
    )
    bob = await store.add_user("bob", HASH)
    assert await store.user_permissions(bob.id) == frozenset()
    assert [user.name for user in await store.list_users()] == ["alice", "bob"]
    with pytest.raises(Conflict):
        await store.add_user("alice", HASH)
    with pytest.raises(NotFound):
        await store.add_user("carol", HASH, ["nope"])
    assert await store.get_user("carol") is None

    ops = await store.add_group("ops", ["view-events"])
    assert ops.permissions == ("view-events",)
    assert not ops.builtin
    assert await store.add_member("bob", "ops")
    assert not await store.add_member("bob", "ops")
    assert await store.grant("ops", "clear-events")
    assert not await store.grant("ops", "clear-events")
    assert await store.user_permissions(bob.id) == {"view-events", "clear-events"}
    assert await store.revoke("ops", "view-events")
    assert not await store.revoke("ops", "view-events")
    group = await store.get_group("ops")
    assert group is not None
    assert group.permissions == ("clear-events",)
    assert group.members == ("bob",)
    with pytest.raises(NotFound):
        await store.grant("nope", "view-events")
    with pytest.raises(NotFound):
        await store.add_member("nobody", "ops")
    assert await store.remove_member("bob", "ops")
    assert await store.user_permissions(bob.id) == frozenset()
    with pytest.raises(Conflict):
        await store.add_group("ops")
    assert await store.remove_group("ops")
    assert await store.get_group("ops") is None


async def test_password_change_ends_login_sessions_only(store: Store) -> None:
    user = await store.add_user("dave", HASH)
    login, personal = new_token(USER_TOKEN_PREFIX), new_token(USER_TOKEN_PREFIX)
    now = time.time()
    await store.add_user_token(
        user.id, login.digest, login.prefix, kind="login", name="login", expires_at=now + 60
    )
    await store.add_user_token(
        user.id, personal.digest, personal.prefix, kind="personal", name="ci"
    )
    assert await store.set_password("dave", HASH.replace("aGFz", "bGFz"))
    assert not await store.set_password("nobody", HASH)
    assert await store.find_user_token(login.digest, now) is None
    found = await store.find_user_token(personal.digest, now)
    assert found is not None
    assert found.name == "ci"
    assert found.prefix == personal.prefix
    changed = await store.get_user("dave")
    assert changed is not None
    assert changed.password_hash != HASH


async def test_user_tokens_expire_and_are_removed(store: Store) -> None:
    user = await store.add_user("erin", HASH)
    token = new_token(USER_TOKEN_PREFIX)
    now = time.time()
    record = await store.add_user_token(
        user.id, token.digest, token.prefix, kind="login", name="login", expires_at=now + 10
    )
    assert await store.find_user_token(token.digest, now) == record
    assert await store.find_user_token(token.digest, now + 11) is None
    assert await store.list_user_tokens(user.id) == [record]
    assert await store.remove_user_token(token.digest)
    assert not await store.remove_user_token(token.digest)
    again = new_token(USER_TOKEN_PREFIX)
    await store.add_user_token(user.id, again.digest, again.prefix, kind="personal", name="x")
    assert await store.remove_user("erin")
    assert not await store.remove_user("erin")
    assert await store.find_user_token(again.digest, now) is None


async def test_system_tokens_are_named_per_system(store: Store) -> None:
    web1 = await store.add_system("web1")
    web2 = await store.add_system("web2")
    first, second = new_token(SYSTEM_TOKEN_PREFIX), new_token(SYSTEM_TOKEN_PREFIX)
    record = await store.add_system_token(web1.id, "default", first.digest, first.prefix)
    assert record.system_name == "web1"
    assert record.prefix == first.prefix
    await store.add_system_token(web1.id, "backup", second.digest, second.prefix)
    other = new_token(SYSTEM_TOKEN_PREFIX)
    await store.add_system_token(web2.id, "default", other.digest, other.prefix)
    with pytest.raises(Conflict):
        await store.add_system_token(web1.id, "default", other.digest + "x", "p")
    assert await store.find_system_token(first.digest) == record
    assert [t.name for t in await store.list_system_tokens(web1.id)] == ["backup", "default"]
    assert await store.remove_system_tokens(web1.id, ["default", "default", "missing"]) == 1
    assert await store.find_system_token(first.digest) is None
    assert await store.remove_system("web1")
    assert await store.find_system_token(second.digest) is None
    assert await store.find_system_token(other.digest) is not None


async def test_audit_trail_latest_first(store: Store) -> None:
    await store.add_audit("alice", "127.0.0.1", "login", "alice")
    await store.add_audit("cli", "local", "user.add", "bob", "groups=readonly")
    entries = await store.list_audit(limit=10)
    assert [(e.actor, e.action, e.target) for e in entries] == [
        ("cli", "user.add", "bob"),
        ("alice", "login", "alice"),
    ]
    assert entries[0].detail == "groups=readonly"
    assert entries[1].address == "127.0.0.1"
    assert len(await store.list_audit(limit=1)) == 1


async def test_no_secret_is_in_the_sqlite_file(tmp_path: Path) -> None:
    store = SQLiteStore(tmp_path / "fw.db")
    await store.open()
    try:
        user = await store.add_user("frank", HASH)
        token = new_token(USER_TOKEN_PREFIX)
        await store.add_user_token(user.id, token.digest, token.prefix, kind="personal", name="t")
        system = await store.add_system("db1")
        system_token = new_token(SYSTEM_TOKEN_PREFIX)
        await store.add_system_token(system.id, "default", system_token.digest, system_token.prefix)
    finally:
        await store.close()
    data = b"".join(path.read_bytes() for path in tmp_path.iterdir())
    assert token.secret.encode() not in data
    assert system_token.secret.encode() not in data
    assert token.digest.encode() in data


async def test_latest_credential_change_skips_login_attempts(store: Store) -> None:
    assert await store.latest_credential_change() == 0
    await store.add_audit("cli", "local", "user.add", "amy")
    marker = await store.latest_credential_change()
    assert marker > 0
    await store.add_audit("amy", "127.0.0.1", "login", "amy")
    await store.add_audit("amy", "127.0.0.1", "login.failed", "amy")
    assert await store.latest_credential_change() == marker
    await store.add_audit("cli", "local", "system.revoke", "web1")
    assert await store.latest_credential_change() > marker
