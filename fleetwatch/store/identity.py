"""The identity part of the storage contract: users, groups, tokens and the audit trail.

Secrets never reach the store: a user's password arrives as its argon2 hash, a token as the
SHA-256 digest of its secret plus a short display prefix (see ``fleetwatch.auth.secrets``).
``IdentityStore`` is part of ``Store``; ``identity_sql.IdentitySQL`` implements it for both
backends with the same SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, Protocol

__all__ = [
    "AuditRecord",
    "GroupRecord",
    "IdentityStore",
    "SystemTokenRecord",
    "TokenKind",
    "UserRecord",
    "UserTokenRecord",
]

TokenKind = Literal["login", "personal"]


@dataclass(frozen=True, slots=True)
class UserRecord:
    id: int
    name: str
    password_hash: str
    created_at: float
    password_changed_at: float
    groups: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class GroupRecord:
    id: int
    name: str
    builtin: bool
    permissions: tuple[str, ...]
    members: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class UserTokenRecord:
    """A user's token: ``login`` (from ``POST /api/v1/login``, expires) or ``personal``."""

    id: int
    user_id: int
    prefix: str
    kind: str
    name: str
    created_at: float
    expires_at: float | None


@dataclass(frozen=True, slots=True)
class SystemTokenRecord:
    id: int
    system_id: int
    system_name: str
    name: str
    prefix: str
    created_at: float


@dataclass(frozen=True, slots=True)
class AuditRecord:
    """Who did what, when and from where; never a secret."""

    id: int
    at: float
    actor: str
    address: str
    action: str
    target: str
    detail: str


class IdentityStore(Protocol):
    """Principals and credentials. Unknown names raise ``NotFound``, taken ones ``Conflict``."""

    async def add_user(
        self, name: str, password_hash: str, groups: Sequence[str] = ()
    ) -> UserRecord: ...

    async def get_user(self, name: str) -> UserRecord | None: ...

    async def get_user_by_id(self, user_id: int) -> UserRecord | None: ...

    async def list_users(self) -> list[UserRecord]:
        """Every user with their groups, by name."""

    async def set_password(self, name: str, password_hash: str) -> bool:
        """Change a password and end the user's login sessions; False for an unknown user."""

    async def remove_user(self, name: str) -> bool:
        """Remove a user with their tokens and memberships; False if there was none."""

    async def user_permissions(self, user_id: int) -> frozenset[str]:
        """The union of the permissions of the user's groups."""

    async def add_group(self, name: str, permissions: Sequence[str] = ()) -> GroupRecord: ...

    async def get_group(self, name: str) -> GroupRecord | None: ...

    async def list_groups(self) -> list[GroupRecord]:
        """Every group with its permissions and members, by name."""

    async def remove_group(self, name: str) -> bool: ...

    async def grant(self, group: str, permission: str) -> bool:
        """Give a group a permission; False if it had it already."""

    async def revoke(self, group: str, permission: str) -> bool:
        """Take a permission from a group; False if it did not have it."""

    async def add_member(self, user: str, group: str) -> bool:
        """Put a user in a group; False if already a member."""

    async def remove_member(self, user: str, group: str) -> bool: ...

    async def add_user_token(
        self,
        user_id: int,
        digest: str,
        prefix: str,
        *,
        kind: TokenKind,
        name: str,
        expires_at: float | None = None,
    ) -> UserTokenRecord: ...

    async def find_user_token(self, digest: str, now: float) -> UserTokenRecord | None:
        """The unexpired user token with this digest."""

    async def list_user_tokens(self, user_id: int) -> list[UserTokenRecord]: ...

    async def remove_user_token(self, digest: str) -> bool: ...

    async def add_system_token(
        self, system_id: int, name: str, digest: str, prefix: str
    ) -> SystemTokenRecord:
        """``Conflict`` if the system already has a token of that name."""

    async def find_system_token(self, digest: str) -> SystemTokenRecord | None: ...

    async def list_system_tokens(self, system_id: int) -> list[SystemTokenRecord]: ...

    async def remove_system_tokens(self, system_id: int, names: Sequence[str]) -> int:
        """Revoke a system's tokens by name; return how many were removed."""

    async def add_audit(
        self, actor: str, address: str, action: str, target: str, detail: str = ""
    ) -> None: ...

    async def list_audit(self, *, limit: int = 100) -> list[AuditRecord]:
        """The latest entries first."""

    async def latest_credential_change(self) -> int:
        """The id of the latest audit entry that changed a credential (0 for none): hubs
        sharing the store poll it to drop cached credentials that another process changed."""
