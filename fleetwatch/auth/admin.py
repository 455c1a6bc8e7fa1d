"""Managing users, groups, systems and their tokens: what the CLI and the admin API both call.

Each change is validated here, written to the store, recorded in the audit trail (who, from
where, what; never a secret) and drops the hub's credential cache (``on_change``). New secrets
(tokens) are returned once and never stored.
"""

from __future__ import annotations

import asyncio
import contextlib
import re
from collections.abc import Callable, Iterator, Sequence

from fleetwatch.auth.permissions import BUILTIN_GROUPS, check_permission
from fleetwatch.auth.secrets import (
    SYSTEM_TOKEN_PREFIX,
    USER_TOKEN_PREFIX,
    PasswordHashing,
    new_token,
)
from fleetwatch.store import (
    Conflict,
    GroupRecord,
    NotFound,
    Store,
    SystemRecord,
    SystemTokenRecord,
    UserRecord,
)

__all__ = ["Actor", "Admin", "check_name"]

MIN_PASSWORD_CHARS = 8
DEFAULT_TOKEN_NAME = "default"  # noqa: S105 - a label
PERSONAL_TOKEN_NAME = "personal"  # noqa: S105 - a label
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._@+-]{0,63}")
_LABEL = re.compile(r"[^\x00-\x1f\x7f]{1,64}")


class Actor:
    """Who makes a change, for the audit trail."""

    __slots__ = ("address", "name")

    def __init__(self, name: str, address: str) -> None:
        self.name = name
        self.address = address


def check_name(kind: str, name: str) -> str:
    """A user, group or system name: letters, digits and ``._@+-``, at most 64 characters."""
    if not _NAME.fullmatch(name):
        raise ValueError(
            f"invalid {kind} name {name!r}: use letters, digits and ._@+- (at most 64, "
            "starting with a letter or digit)"
        )
    return name


def check_label(label: str) -> str:
    if not _LABEL.fullmatch(label):
        raise ValueError(f"invalid token name {label!r}: 1 to 64 printable characters")
    return label


def check_password(password: str) -> str:
    if len(password) < MIN_PASSWORD_CHARS:
        raise ValueError(f"a password needs at least {MIN_PASSWORD_CHARS} characters")
    return password


class Admin:
    """The management operations; ``ValueError`` for bad input, ``NotFound``/``Conflict``."""

    def __init__(
        self,
        store: Store,
        hashing: PasswordHashing,
        on_change: Callable[[], None] = lambda: None,
    ) -> None:
        self.store = store
        self.hashing = hashing
        self._on_change = on_change

    # -- users

    async def add_user(
        self, actor: Actor, name: str, password: str, groups: Sequence[str] = ()
    ) -> UserRecord:
        check_name("user", name)
        password_hash = await self._hash(check_password(password))
        with _taken("user", name):
            user = await self.store.add_user(name, password_hash, list(dict.fromkeys(groups)))
        await self._audit(actor, "user.add", name, f"groups={','.join(user.groups)}")
        return user

    async def set_password(self, actor: Actor, name: str, password: str) -> None:
        password_hash = await self._hash(check_password(password))
        if not await self.store.set_password(name, password_hash):
            raise NotFound(f"no user named {name!r}")
        await self._audit(actor, "user.passwd", name)

    async def remove_user(self, actor: Actor, name: str) -> None:
        if not await self.store.remove_user(name):
            raise NotFound(f"no user named {name!r}")
        await self._audit(actor, "user.remove", name)

    async def user_token(self, actor: Actor, name: str, label: str | None = None) -> str:
        """A personal access token. Labels are unique per user, as per system: a label given
        that is taken is a ``Conflict``; without one, the first free of ``personal``,
        ``personal-2``, ``personal-3``..."""
        user = await self._user(name)
        taken = {t.name for t in await self.store.list_user_tokens(user.id) if t.kind == "personal"}
        label = _label(label, PERSONAL_TOKEN_NAME, taken, f"user {name!r}")
        token = new_token(USER_TOKEN_PREFIX)
        await self.store.add_user_token(
            user.id, token.digest, token.prefix, kind="personal", name=label
        )
        await self._audit(actor, "user.token", name, f"name={label} prefix={token.prefix}")
        return token.secret

    async def _user(self, name: str) -> UserRecord:
        user = await self.store.get_user(name)
        if user is None:
            raise NotFound(f"no user named {name!r}")
        return user

    # -- groups

    async def add_group(self, actor: Actor, name: str, permissions: Sequence[str]) -> GroupRecord:
        check_name("group", name)
        for permission in permissions:
            check_permission(permission)
        with _taken("group", name):
            group = await self.store.add_group(name, list(dict.fromkeys(permissions)))
        await self._audit(actor, "group.add", name, f"permissions={','.join(group.permissions)}")
        return group

    async def grant(self, actor: Actor, group: str, permission: str) -> bool:
        self._not_builtin(group)
        changed = await self.store.grant(group, check_permission(permission))
        await self._audit(actor, "group.grant", group, permission)
        return changed

    async def revoke(self, actor: Actor, group: str, permission: str) -> bool:
        self._not_builtin(group)
        changed = await self.store.revoke(group, check_permission(permission))
        await self._audit(actor, "group.revoke", group, permission)
        return changed

    async def add_member(self, actor: Actor, user: str, group: str) -> bool:
        changed = await self.store.add_member(user, group)
        await self._audit(actor, "group.add_member", group, f"user={user}")
        return changed

    async def remove_member(self, actor: Actor, user: str, group: str) -> bool:
        changed = await self.store.remove_member(user, group)
        await self._audit(actor, "group.remove_member", group, f"user={user}")
        return changed

    async def remove_group(self, actor: Actor, name: str) -> None:
        """Remove a group (its members stay, without its permissions)."""
        self._not_builtin(name)
        if not await self.store.remove_group(name):
            raise NotFound(f"no group named {name!r}")
        await self._audit(actor, "group.remove", name)

    async def set_groups(self, actor: Actor, name: str, groups: Sequence[str]) -> tuple[str, ...]:
        """Put an existing user in exactly ``groups``; returns them. Every group must exist."""
        user = await self._user(name)
        wanted = list(dict.fromkeys(groups))
        known = {g.name for g in await self.store.list_groups()}
        unknown = [g for g in wanted if g not in known]
        if unknown:
            raise NotFound(f"no group named {unknown[0]!r}")
        for group in wanted:
            if group not in user.groups:
                await self.add_member(actor, name, group)
        for group in user.groups:
            if group not in wanted:
                await self.remove_member(actor, name, group)
        return tuple(wanted)

    def _not_builtin(self, group: str) -> None:
        if group in BUILTIN_GROUPS:
            raise ValueError(f"the built-in group {group!r} cannot be changed; make a new group")

    # -- systems

    async def add_system(self, actor: Actor, name: str) -> tuple[SystemRecord, str]:
        """Register a system; return it with its first token (named ``default``)."""
        with _taken("system", name):
            system = await self.store.add_system(check_name("system", name))
        secret = await self._system_token(actor, system, DEFAULT_TOKEN_NAME)
        await self._audit(actor, "system.add", name)
        return system, secret

    async def system_token(self, actor: Actor, name: str, label: str | None = None) -> str:
        """Another token for a system; labels as for ``user_token`` (``default``,
        ``default-2``... when none is given)."""
        system = await self.system(name)
        taken = {t.name for t in await self.store.list_system_tokens(system.id)}
        label = _label(label, DEFAULT_TOKEN_NAME, taken, f"system {name!r}")
        return await self._system_token(actor, system, label)

    async def revoke_system_tokens(self, actor: Actor, name: str, labels: Sequence[str]) -> int:
        system = await self.system(name)
        removed = await self.store.remove_system_tokens(system.id, labels)
        await self._audit(actor, "system.revoke", name, f"names={','.join(labels)}")
        return removed

    async def remove_system(self, actor: Actor, name: str) -> None:
        if not await self.store.remove_system(name):
            raise NotFound(f"no system named {name!r}")
        await self._audit(actor, "system.remove", name)

    async def system(self, name: str) -> SystemRecord:
        system = await self.store.get_system(name)
        if system is None:
            raise NotFound(f"no system named {name!r}")
        return system

    async def system_tokens(self, name: str) -> list[SystemTokenRecord]:
        return await self.store.list_system_tokens((await self.system(name)).id)

    async def _system_token(self, actor: Actor, system: SystemRecord, label: str) -> str:
        token = new_token(SYSTEM_TOKEN_PREFIX)
        try:
            await self.store.add_system_token(system.id, label, token.digest, token.prefix)
        except Conflict:
            raise Conflict(f"system {system.name!r} already has a token named {label!r}") from None
        await self._audit(actor, "system.token", system.name, f"name={label} prefix={token.prefix}")
        return token.secret

    # -- plumbing

    async def _hash(self, password: str) -> str:
        return await asyncio.to_thread(self.hashing.hash, password)

    async def _audit(self, actor: Actor, action: str, target: str, detail: str = "") -> None:
        self._on_change()
        await self.store.add_audit(actor.name, actor.address, action, target, detail)


def _label(given: str | None, base: str, taken: set[str], owner: str) -> str:
    """The label of a new token: ``given`` unless taken (``Conflict``), else a free one."""
    if given is not None:
        if check_label(given) in taken:
            raise Conflict(f"{owner} already has a token named {given!r}")
        return given
    if base not in taken:
        return base
    return next(f"{base}-{n}" for n in range(2, len(taken) + 3) if f"{base}-{n}" not in taken)


@contextlib.contextmanager
def _taken(kind: str, name: str) -> Iterator[None]:
    try:
        yield
    except Conflict:
        raise Conflict(f"{kind} {name!r} already exists") from None
