"""Resolving a request's credential to a principal, fast on the hot paths.

A verified credential is cached for ``cache_seconds`` under the SHA-256 of its raw header bytes,
so a request with a known credential costs a hash and a dictionary look-up, never argon2, a
query or even a base64 decode.
Changes made through this hub (a password, a revoked token, a group's permissions) drop the cache
at once; changes made by another process (the CLI, another hub) within a second (``watch``).
Failed attempts are limited per credential and address together (``TooManyRequests``, 429;
see ``ratelimit.CredentialLimiter``).
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from fleetwatch.api.errors import TooManyRequests, Unauthorized
from fleetwatch.auth.credentials import (
    Credential,
    LoginToken,
    Password,
    Token,
    parse_credential,
    raw_credential,
)
from fleetwatch.auth.ratelimit import CredentialLimiter
from fleetwatch.auth.secrets import (
    SYSTEM_TOKEN_PREFIX,
    USER_TOKEN_PREFIX,
    PasswordHashing,
    digest,
    equal,
    new_token,
)
from fleetwatch.store import Store, StoreError, UserRecord

if TYPE_CHECKING:
    from fleetwatch.auth.shared_limits import SharedLimits

__all__ = ["ANONYMOUS", "Authenticator", "Principal"]

log = logging.getLogger(__name__)

PrincipalKind = Literal["user", "system", "anonymous"]


@dataclass(frozen=True, slots=True)
class Principal:
    """Who a request acts as, and what they may do."""

    kind: PrincipalKind
    name: str
    permissions: frozenset[str] = field(default_factory=frozenset)
    user_id: int | None = None
    system_id: int | None = None
    token_digest: str | None = None  # the user token it came with: what logout revokes

    def can(self, permission: str) -> bool:
        return permission in self.permissions


ANONYMOUS = Principal("anonymous", "anonymous")


class Authenticator:
    """Credentials in, principals out; owns the credential cache and the failure limiter."""

    def __init__(
        self,
        store: Store,
        *,
        hashing: PasswordHashing | None = None,
        cache_seconds: float = 10.0,
        system_cache_seconds: float = 600.0,
        login_token_seconds: float = 90 * 86400,
        limiter: CredentialLimiter | None = None,
        clock: Callable[[], float] = time.monotonic,
        # Above the fleet a hub holds (10,000 systems, each its own token, and their users): at
        # 10,000 the cache was emptied every push cycle, so every push read the store again.
        max_cached: int = 50_000,
    ) -> None:
        self.store = store
        self.hashing = hashing or PasswordHashing()
        self.cache_seconds = cache_seconds
        self.system_cache_seconds = system_cache_seconds
        self.login_token_seconds = login_token_seconds
        self.limiter = limiter or CredentialLimiter()
        # Hubs sharing a PostgreSQL database share their failures too (None: this hub alone).
        self.shared: SharedLimits | None = None
        self._clock = clock
        self._max_cached = max_cached
        self._cache: dict[bytes, tuple[Principal, float]] = {}
        self._pending: dict[bytes, asyncio.Future[Principal | None]] = {}

    # -- requests

    async def resolve(
        self, headers: Iterable[tuple[bytes, bytes]], address: str
    ) -> Principal | None:
        """The request's principal; None without credentials. ``Unauthorized`` if they are bad."""
        raw = raw_credential(headers)
        if raw is None:
            return None
        key = hashlib.sha256(raw).digest()
        hit = self._cache.get(key)
        if hit is not None and hit[1] > self._clock():
            return hit[0]
        return await self._verify_once(key, parse_credential(raw), address)

    def forget(self) -> None:
        """Drop every cached credential: called on any change to users, groups or tokens."""
        self._cache.clear()

    async def watch(self, stop: asyncio.Event, interval: float = 1.0) -> None:
        """Drop the cache when another process (the CLI, another hub) changes a credential."""
        seen: int | None = None
        while not stop.is_set():
            try:
                latest = await self.store.latest_credential_change()
            except StoreError as exc:
                log.warning("cannot check for credential changes: %s", exc)
            else:
                if seen is not None and latest != seen:
                    self.forget()
                seen = latest
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)

    async def _verify_once(self, key: bytes, credential: Credential, address: str) -> Principal:
        # Concurrent requests with the same uncached credential share one verification.
        pending = self._pending.get(key)
        if pending is None:
            pending = asyncio.ensure_future(self._verify(credential, address))
            self._pending[key] = pending
            pending.add_done_callback(lambda _: self._pending.pop(key, None))
        principal = await asyncio.shield(pending)
        if principal is None:
            raise Unauthorized("bad credentials")
        if len(self._cache) >= self._max_cached:
            self._cache.clear()
        # A system token never expires by itself and its revocation drops the cache (forget(),
        # watch()), so it may be kept longer: with pushes every 10 s, a 10 s entry meant a
        # store read for nearly every push.
        ttl = self.system_cache_seconds if principal.kind == "system" else self.cache_seconds
        self._cache[key] = (principal, self._clock() + ttl)
        return principal

    async def _verify(self, credential: Credential, address: str) -> Principal | None:
        name = _limited_as(credential)
        self._check_limits(name, address, cheap=not isinstance(credential, Password))
        if isinstance(credential, Password):
            principal = await self.check_password(credential.user, credential.password)
        elif isinstance(credential, LoginToken):
            principal = await self._user_token(credential.secret, credential.user_id)
        else:
            principal = await self._token(credential)
        if principal is None:
            spraying = self.limiter.spraying(address)
            self.limiter.fail(name, address)
            if self.shared is not None:
                await self.shared.failed(name, address)
            if not spraying:  # past the ceiling, one audit row per guess would be its own flood
                await self.store.add_audit(_actor(credential), address, "auth.failed", "")
        else:
            await self._succeeded(name, address)
        return principal

    async def _succeeded(self, credential: str, address: str) -> None:
        # Only a pair that had failures is written to the store: a sign-in reads and writes
        # nothing for the limiter otherwise.
        had_failures = self.limiter.failing(credential, address)
        self.limiter.succeed(credential, address)
        if had_failures and self.shared is not None:
            await self.shared.succeeded(credential, address)

    def _check_limits(self, credential: str, address: str, *, cheap: bool = False) -> None:
        wait = self.limiter.retry_after(credential, address, cheap=cheap)
        if wait > 0:
            raise TooManyRequests("too many failed attempts; try again later", retry_after=wait)

    async def _token(self, token: Token) -> Principal | None:
        if token.secret.startswith(SYSTEM_TOKEN_PREFIX):
            found = await self.store.find_system_token(digest(token.secret))
            if found is None:
                return None
            return Principal("system", found.system_name, system_id=found.system_id)
        if token.secret.startswith(USER_TOKEN_PREFIX):
            return await self._user_token(token.secret, None)
        return None

    async def _user_token(self, secret: str, user_id: str | None) -> Principal | None:
        token_digest = digest(secret)
        found = await self.store.find_user_token(token_digest, time.time())
        if found is None or (user_id is not None and not equal(user_id, str(found.user_id))):
            return None
        user = await self.store.get_user_by_id(found.user_id)
        if user is None:
            return None
        return await self._principal(user, token_digest)

    async def _principal(self, user: UserRecord, token_digest: str | None = None) -> Principal:
        permissions = await self.store.user_permissions(user.id)
        return Principal("user", user.name, permissions, user.id, token_digest=token_digest)

    # -- passwords and sessions

    async def check_password(self, name: str, password: str) -> Principal | None:
        """The user's principal if the password is theirs (argon2 off the event loop)."""
        # No user name holds U+0000 (PostgreSQL could not even look one up): nobody, then.
        user = await self.store.get_user(name) if "\x00" not in name else None
        stored = user.password_hash if user is not None else None
        if not await asyncio.to_thread(self.hashing.verify, stored, password):
            return None
        assert user is not None
        return await self._principal(user)

    async def login(self, name: str, password: str, address: str) -> tuple[Principal, str]:
        """Check a password and open a session: the principal and its new login token."""
        self._check_limits(f"user:{name}", address)
        principal = await self.check_password(name, password)
        if principal is None or principal.user_id is None:
            spraying = self.limiter.spraying(address)
            self.limiter.fail(f"user:{name}", address)
            if self.shared is not None:
                await self.shared.failed(f"user:{name}", address)
            if not spraying:
                await self.store.add_audit(
                    _printable(name), address, "login.failed", _printable(name)
                )
            raise Unauthorized("bad username or password")
        await self._succeeded(f"user:{name}", address)
        token = new_token(USER_TOKEN_PREFIX)
        await self.store.add_user_token(
            principal.user_id,
            token.digest,
            token.prefix,
            kind="login",
            name="login",
            expires_at=time.time() + self.login_token_seconds,
        )
        await self.store.add_audit(name, address, "login", name)
        session = Principal(
            "user", principal.name, principal.permissions, principal.user_id,
            token_digest=token.digest,
        )  # fmt: skip
        return session, token.secret

    async def logout(self, principal: Principal, address: str) -> bool:
        """End the session a login token opened; False for other credentials."""
        if principal.token_digest is None:
            return False
        removed = await self.store.remove_user_token(principal.token_digest)
        self.forget()
        await self.store.add_audit(principal.name, address, "logout", principal.name)
        return removed


def _limited_as(credential: Credential) -> str:
    """What failures are counted under (with the address): never the secret itself."""
    if isinstance(credential, Password):
        return f"user:{credential.user}"
    if isinstance(credential, LoginToken):
        return f"user-id:{credential.user_id}"
    return f"token:{digest(credential.secret)[:32]}"


def _actor(credential: Credential) -> str:
    if isinstance(credential, Password):
        return _printable(credential.user)
    if isinstance(credential, LoginToken):
        return _printable(f"user-id:{credential.user_id}")
    return "token"


def _printable(name: str) -> str:
    """A name a client sent, fit for the audit log on both backends (no U+0000)."""
    return name.replace("\x00", "\\0")
