"""``IdentityStore`` in SQL that SQLite and PostgreSQL both speak.

The queries are written once with ``?`` placeholders; a backend that takes ``%s`` gets them
rewritten, and ``RETURNING id`` is added where the backend needs it to report a new row's id.
Writes go through the backend's group-commit writer like every other write.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

from .base import Statement
from .errors import NotFound
from .identity import (
    AuditRecord,
    GroupRecord,
    SystemTokenRecord,
    TokenKind,
    UserRecord,
    UserTokenRecord,
)

__all__ = ["IdentitySQL"]

Row = tuple[Any, ...]
Params = Sequence[object] | Mapping[str, object]

_USERS = (
    "SELECT u.id, u.name, u.password_hash, u.created_at, u.password_changed_at, g.name"
    " FROM users u"
    " LEFT JOIN group_members m ON m.user_id = u.id LEFT JOIN groups g ON g.id = m.group_id"
)
_GROUPS = (
    "SELECT g.id, g.name, g.builtin, p.permission, NULL FROM groups g"
    " LEFT JOIN group_permissions p ON p.group_id = g.id"
    " UNION ALL SELECT g.id, g.name, g.builtin, NULL, u.name FROM groups g"
    " JOIN group_members m ON m.group_id = g.id JOIN users u ON u.id = m.user_id"
)
_USER_TOKENS = "SELECT id, user_id, prefix, kind, name, created_at, expires_at FROM user_tokens"
_SYSTEM_TOKENS = (
    "SELECT t.id, t.system_id, s.name, t.name, t.prefix, t.created_at"
    " FROM system_tokens t JOIN systems s ON s.id = t.system_id"
)
_GROUP = (
    "SELECT * FROM (SELECT g.id, g.name, g.builtin, p.permission, NULL FROM groups g"
    " LEFT JOIN group_permissions p ON p.group_id = g.id"
    " UNION ALL SELECT g.id, g.name, g.builtin, NULL, u.name FROM groups g"
    " JOIN group_members m ON m.group_id = g.id JOIN users u ON u.id = m.user_id) x"
    " WHERE x.name = ?"
)


class IdentitySQL:
    """Mixed into a backend that provides ``_write`` and ``_rows``."""

    _placeholder: ClassVar[str] = "?"
    _returning_id: ClassVar[bool] = False

    async def _write(self, statement: Statement) -> int:
        raise NotImplementedError

    def _queue_all(self, statements: Sequence[Statement]) -> list[asyncio.Future[int]]:
        """Queue writes together (all or none); a future each, resolved once committed."""
        raise NotImplementedError

    async def _rows(self, sql: str, params: Params) -> list[Row]:
        raise NotImplementedError

    # -- users

    async def add_user(
        self, name: str, password_hash: str, groups: Sequence[str] = ()
    ) -> UserRecord:
        await self._require_groups(groups)
        now = time.time()
        sql = "INSERT INTO users (name, password_hash, created_at, password_changed_at)"
        user_id = await self._insert(f"{sql} VALUES (?, ?, ?, ?)", (name, password_hash, now, now))
        for group in groups:
            await self.add_member(name, group)
        return UserRecord(user_id, name, password_hash, now, now, tuple(sorted(set(groups))))

    async def get_user(self, name: str) -> UserRecord | None:
        found = _fold_users(await self._select(f"{_USERS} WHERE u.name = ?", (name,)))
        return found[0] if found else None

    async def get_user_by_id(self, user_id: int) -> UserRecord | None:
        found = _fold_users(await self._select(f"{_USERS} WHERE u.id = ?", (user_id,)))
        return found[0] if found else None

    async def list_users(self) -> list[UserRecord]:
        return _fold_users(await self._select(f"{_USERS} ORDER BY u.name, g.name", ()))

    async def set_password(self, name: str, password_hash: str) -> bool:
        sql = "UPDATE users SET password_hash = ?, password_changed_at = ? WHERE name = ?"
        if not await self._change(sql, (password_hash, time.time(), name)):
            return False
        sql = (
            "DELETE FROM user_tokens WHERE kind = 'login'"
            " AND user_id = (SELECT id FROM users WHERE name = ?)"
        )
        await self._change(sql, (name,))
        return True

    async def remove_user(self, name: str) -> bool:
        return await self._change("DELETE FROM users WHERE name = ?", (name,)) > 0

    async def user_permissions(self, user_id: int) -> frozenset[str]:
        rows = await self._select(
            "SELECT DISTINCT p.permission FROM group_members m"
            " JOIN group_permissions p ON p.group_id = m.group_id WHERE m.user_id = ?",
            (user_id,),
        )
        return frozenset(str(row[0]) for row in rows)

    # -- groups

    async def add_group(self, name: str, permissions: Sequence[str] = ()) -> GroupRecord:
        sql = "INSERT INTO groups (name, builtin, created_at) VALUES (?, 0, ?)"
        group_id = await self._insert(sql, (name, time.time()))
        for permission in permissions:
            await self.grant(name, permission)
        return GroupRecord(group_id, name, False, tuple(sorted(set(permissions))), ())

    async def get_group(self, name: str) -> GroupRecord | None:
        found = _fold_groups(await self._select(_GROUP, (name,)))
        return found[0] if found else None

    async def list_groups(self) -> list[GroupRecord]:
        return _fold_groups(await self._select(_GROUPS, ()))

    async def remove_group(self, name: str) -> bool:
        return await self._change("DELETE FROM groups WHERE name = ?", (name,)) > 0

    async def grant(self, group: str, permission: str) -> bool:
        await self._require_groups([group])
        sql = (
            "INSERT INTO group_permissions (group_id, permission)"
            " SELECT id, ? FROM groups WHERE name = ? ON CONFLICT DO NOTHING"
        )
        return await self._change(sql, (permission, group)) > 0

    async def revoke(self, group: str, permission: str) -> bool:
        await self._require_groups([group])
        sql = (
            "DELETE FROM group_permissions"
            " WHERE group_id = (SELECT id FROM groups WHERE name = ?) AND permission = ?"
        )
        return await self._change(sql, (group, permission)) > 0

    async def add_member(self, user: str, group: str) -> bool:
        await self._require_groups([group])
        if await self.get_user(user) is None:
            raise NotFound(f"no user named {user!r}")
        sql = (
            "INSERT INTO group_members (group_id, user_id)"
            " SELECT id, (SELECT id FROM users WHERE name = ?) FROM groups WHERE name = ?"
            " ON CONFLICT DO NOTHING"
        )
        return await self._change(sql, (user, group)) > 0

    async def remove_member(self, user: str, group: str) -> bool:
        sql = (
            "DELETE FROM group_members WHERE group_id = (SELECT id FROM groups WHERE name = ?)"
            " AND user_id = (SELECT id FROM users WHERE name = ?)"
        )
        return await self._change(sql, (group, user)) > 0

    # -- user tokens

    async def add_user_token(
        self,
        user_id: int,
        digest: str,
        prefix: str,
        *,
        kind: TokenKind,
        name: str,
        expires_at: float | None = None,
    ) -> UserTokenRecord:
        now = time.time()
        sql = (
            "INSERT INTO user_tokens (user_id, digest, prefix, kind, name, created_at, expires_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?)"
        )
        params = (user_id, digest, prefix, kind, name, now, expires_at)
        token_id = await self._insert(sql, params)
        return UserTokenRecord(token_id, user_id, prefix, kind, name, now, expires_at)

    async def find_user_token(self, digest: str, now: float) -> UserTokenRecord | None:
        rows = await self._select(
            _USER_TOKENS + " WHERE digest = ? AND (expires_at IS NULL OR expires_at > ?)",
            (digest, now),
        )
        return UserTokenRecord(*rows[0]) if rows else None

    async def list_user_tokens(self, user_id: int) -> list[UserTokenRecord]:
        rows = await self._select(
            _USER_TOKENS + " WHERE user_id = ? ORDER BY id",
            (user_id,),
        )
        return [UserTokenRecord(*row) for row in rows]

    async def remove_user_token(self, digest: str) -> bool:
        return await self._change("DELETE FROM user_tokens WHERE digest = ?", (digest,)) > 0

    # -- system tokens

    async def add_system_token(
        self, system_id: int, name: str, digest: str, prefix: str
    ) -> SystemTokenRecord:
        now = time.time()
        sql = (
            "INSERT INTO system_tokens (system_id, name, digest, prefix, created_at)"
            " VALUES (?, ?, ?, ?, ?)"
        )
        token_id = await self._insert(sql, (system_id, name, digest, prefix, now))
        rows = await self._select("SELECT name FROM systems WHERE id = ?", (system_id,))
        return SystemTokenRecord(token_id, system_id, str(rows[0][0]), name, prefix, now)

    async def find_system_token(self, digest: str) -> SystemTokenRecord | None:
        rows = await self._select(f"{_SYSTEM_TOKENS} WHERE t.digest = ?", (digest,))
        return SystemTokenRecord(*rows[0]) if rows else None

    async def list_system_tokens(self, system_id: int) -> list[SystemTokenRecord]:
        rows = await self._select(
            f"{_SYSTEM_TOKENS} WHERE t.system_id = ? ORDER BY t.name", (system_id,)
        )
        return [SystemTokenRecord(*row) for row in rows]

    async def remove_system_tokens(self, system_id: int, names: Sequence[str]) -> int:
        removed = 0
        for name in dict.fromkeys(names):
            sql = "DELETE FROM system_tokens WHERE system_id = ? AND name = ?"
            removed += await self._change(sql, (system_id, name))
        return removed

    # -- audit trail

    async def add_audit(
        self, actor: str, address: str, action: str, target: str, detail: str = ""
    ) -> None:
        sql = (
            "INSERT INTO audit_log (at, actor, address, action, target, detail)"
            " VALUES (?, ?, ?, ?, ?, ?)"
        )
        await self._change(sql, (time.time(), actor, address, action, target, detail))

    async def list_audit(self, *, limit: int = 100) -> list[AuditRecord]:
        rows = await self._select(
            "SELECT id, at, actor, address, action, target, detail FROM audit_log"
            " ORDER BY at DESC, id DESC LIMIT ?",
            (max(limit, 0),),
        )
        return [AuditRecord(*row) for row in rows]

    async def latest_credential_change(self) -> int:
        # Newest first by primary key: stops at the first row that is not a login attempt.
        rows = await self._select(
            "SELECT id FROM audit_log WHERE action NOT IN ('login', 'login.failed', 'auth.failed')"
            " ORDER BY id DESC LIMIT 1",
            (),
        )
        return int(rows[0][0]) if rows else 0

    # -- plumbing

    def _sql(self, sql: str) -> str:
        return sql if self._placeholder == "?" else sql.replace("?", self._placeholder)

    async def _select(self, sql: str, params: Sequence[object]) -> list[Row]:
        return await self._rows(self._sql(sql), params)

    async def _change(self, sql: str, params: Sequence[object]) -> int:
        return await self._write(Statement(self._sql(sql), params))

    async def _insert(self, sql: str, params: Sequence[object]) -> int:
        sql = self._sql(sql) + (" RETURNING id" if self._returning_id else "")
        return await self._write(Statement(sql, params, returns_id=True))

    async def _require_groups(self, groups: Sequence[str]) -> None:
        known = {group.name for group in await self.list_groups()}
        unknown = [group for group in groups if group not in known]
        if unknown:
            raise NotFound(f"no group named {unknown[0]!r}")


def _fold_users(rows: list[Row]) -> list[UserRecord]:
    users: dict[int, UserRecord] = {}
    for user_id, name, password_hash, created_at, changed_at, group in rows:
        known = users.get(user_id)
        groups = known.groups if known else ()
        if group is not None:
            groups = (*groups, str(group))
        users[user_id] = UserRecord(user_id, name, password_hash, created_at, changed_at, groups)
    return list(users.values())


def _fold_groups(rows: list[Row]) -> list[GroupRecord]:
    groups: dict[int, tuple[str, bool, set[str], set[str]]] = {}
    for group_id, name, builtin, permission, member in rows:
        entry = groups.setdefault(group_id, (str(name), bool(builtin), set(), set()))
        if permission is not None:
            entry[2].add(str(permission))
        if member is not None:
            entry[3].add(str(member))
    records = [
        GroupRecord(gid, name, builtin, tuple(sorted(perms)), tuple(sorted(members)))
        for gid, (name, builtin, perms, members) in groups.items()
    ]
    return sorted(records, key=lambda group: group.name)
