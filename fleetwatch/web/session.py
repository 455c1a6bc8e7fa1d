"""Console sessions: a cookie that stands for a login token, and the CSRF token bound to it.

Signing in (``/login``) opens a login token exactly as ``POST /api/v1/login`` does and hands
its secret to the browser as the ``fleetwatch_session`` cookie (HttpOnly, SameSite=Strict,
Secure under TLS). ``SessionGate`` wraps the whole hub: a request that carries the cookie and no
credential header of its own is given the token as ``Authorization: Bearer``, so every API
family, page and permission check sees the same principal as it would for the token. A
password change deletes the user's login tokens, and so ends their sessions; logout deletes one.

A request that changes state (any method but GET, HEAD, OPTIONS) under the cookie must carry the
session's CSRF token, in an ``X-CSRF-Token`` header or a ``csrf`` form field, or it is refused
403 before it reaches any route. The token is an HMAC of the session secret: another site can
neither read the cookie nor compute it.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable
from http.cookies import CookieError, SimpleCookie
from urllib.parse import parse_qsl

from fleetwatch.api.asgi import Message, Receive, Scope, Send, header, send_json

__all__ = [
    "CSRF_FIELD",
    "PRE_LOGIN_COOKIE",
    "SESSION_COOKIE",
    "SessionGate",
    "cookie_header",
    "cookies_of",
    "csrf_token",
]

SESSION_COOKIE = "fleetwatch_session"
PRE_LOGIN_COOKIE = "fleetwatch_login"  # the login form's own CSRF secret, before any session
CSRF_FIELD = "csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
_CREDENTIAL_HEADERS = (b"authorization", b"x-auth-token", b"x-user-id")
_FORM = b"application/x-www-form-urlencoded"


def csrf_token(secret: str) -> str:
    """The CSRF token of a session (or of the login form's pre-login secret)."""
    return hmac.new(secret.encode(), b"fleetwatch console csrf", hashlib.sha256).hexdigest()


def cookies_of(scope: Scope) -> dict[str, str]:
    raw = header(scope, b"cookie")
    if not raw:
        return {}
    jar: SimpleCookie = SimpleCookie()
    try:
        jar.load(raw.decode("latin-1"))
    except CookieError:
        return {}
    return {name: morsel.value for name, morsel in jar.items()}


def cookie_header(
    name: str, value: str, *, path: str, secure: bool, max_age: int | None = None
) -> str:
    """A ``Set-Cookie`` value: HttpOnly, SameSite=Strict, Secure under TLS."""
    parts = [f"{name}={value}", f"Path={path}", "HttpOnly", "SameSite=Strict"]
    if secure:
        parts.append("Secure")
    if max_age is not None:
        parts.append(f"Max-Age={max_age}")
    return "; ".join(parts)


class SessionGate:
    """ASGI wrapper: session cookie in, bearer credential (or 403 without CSRF token) out."""

    def __init__(self, app: Callable[[Scope, Receive, Send], object], max_body_bytes: int) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or header(scope, b"cookie") is None:
            await self.app(scope, receive, send)  # type: ignore[misc]
            return
        secret = cookies_of(scope).get(SESSION_COOKIE)
        if not secret or any(header(scope, name) is not None for name in _CREDENTIAL_HEADERS):
            await self.app(scope, receive, send)  # type: ignore[misc]
            return
        if scope["method"] not in SAFE_METHODS:
            sent, receive = await self._sent_token(scope, receive)
            if sent is None or not hmac.compare_digest(sent, csrf_token(secret)):
                await send_json(send, 403, {"detail": "missing or wrong CSRF token",
                                            "error": "csrf"})  # fmt: skip
                return
        headers = [*scope["headers"], (b"authorization", b"Bearer " + secret.encode("latin-1"))]
        await self.app({**scope, "headers": headers}, receive, send)  # type: ignore[misc]

    async def _sent_token(self, scope: Scope, receive: Receive) -> tuple[str | None, Receive]:
        """The token from the header, else from a form body (read, then replayed)."""
        sent = header(scope, b"x-csrf-token")
        if sent is not None:
            return sent.decode("latin-1"), receive
        kind = (header(scope, b"content-type") or b"").split(b";")[0].strip().lower()
        if kind != _FORM:
            return None, receive
        body = await self._body(receive)
        if body is None:
            return None, receive
        fields = dict(parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True))
        return fields.get(CSRF_FIELD), _replay(body, receive)

    async def _body(self, receive: Receive) -> bytes | None:
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                return None
            chunk: bytes = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _replay(body: bytes, then: Receive) -> Receive:
    """The body already read, once; then the connection's own messages (a disconnect)."""
    done = False

    async def receive() -> Message:
        nonlocal done
        if done:
            return await then()
        done = True
        return {"type": "http.request", "body": body, "more_body": False}

    return receive
