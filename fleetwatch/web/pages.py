"""What every console page shares: who is looking, the templates, and conditional answers.

A page is rendered on the server (Jinja2, autoescaped: a system name or a plugin output is
always text). An open page refreshes itself by asking for its own URL again with
``If-None-Match``: an unchanged page costs the hub its render and a 304, never a body.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from fleetwatch.api.errors import Forbidden, TooManyRequests, Unauthorized
from fleetwatch.api.guard import Guard, address_of
from fleetwatch.auth.authenticator import Principal
from fleetwatch.web.session import SESSION_COOKIE, cookie_header, cookies_of, csrf_token

if TYPE_CHECKING:
    import jinja2

__all__ = ["CSP", "NeedsLogin", "Pages", "Viewer", "page"]

Handler = Callable[[Any, Request], Awaitable[Response]]

TEMPLATES = Path(__file__).parent / "templates"
# No inline script or style anywhere: the pages load their modules and sheets from the hub.
CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; "
    "form-action 'self'"
)
SECURITY_HEADERS = {
    "content-security-policy": CSP,
    "x-content-type-options": "nosniff",
    "referrer-policy": "same-origin",
    "cache-control": "no-cache",
}


@dataclass(frozen=True, slots=True)
class Viewer:
    """Who looks at a page: their principal, and the CSRF token their forms carry."""

    principal: Principal
    csrf: str

    @property
    def signed_in(self) -> bool:
        return self.principal.kind == "user"

    def can(self, permission: str) -> bool:
        return self.principal.can(permission)


class NeedsLogin(Exception):  # a redirect to /login, not an error
    """The page needs a permission that only signing in can give."""


class Pages:
    """Renders templates for a viewer; resolves viewers the way ``/api/4`` does."""

    def __init__(
        self,
        guard: Guard,
        prefix: str,
        anonymous: frozenset[str],
        refresh_seconds: float,
        clock: Callable[[], float],
    ) -> None:
        self.guard = guard
        self.prefix = prefix
        self.anonymous = anonymous
        self.refresh_seconds = refresh_seconds
        self.clock = clock

    @cached_property
    def env(self) -> jinja2.Environment:
        """The templates, set up at the first page asked for: a hub that only serves the API
        (agents, Glances clients, scripts) never loads jinja2."""
        import jinja2  # noqa: PLC0415

        return jinja2.Environment(
            loader=jinja2.FileSystemLoader(TEMPLATES),
            autoescape=True,
            undefined=jinja2.StrictUndefined,
            trim_blocks=True,
            lstrip_blocks=True,
        )

    def anonymous_principal(self) -> Principal:
        return Principal("anonymous", "anonymous", self.anonymous)

    async def viewer(self, request: Request) -> Viewer:
        """The signed-in user, else anonymous with what ``/api/4`` lets anonymous callers do."""
        try:
            principal = await self.guard.auth.resolve(request.scope["headers"], address_of(request))
        except (Unauthorized, TooManyRequests):
            principal = None  # an ended session: the page asks to sign in again
        if principal is None:
            return Viewer(self.anonymous_principal(), "")
        secret = cookies_of(request.scope).get(SESSION_COOKIE, "")
        return Viewer(principal, csrf_token(secret) if secret else "")

    async def require(self, request: Request, *permissions: str) -> Viewer:
        """The viewer if they hold any of ``permissions``; ``NeedsLogin`` or ``Forbidden``."""
        viewer = await self.viewer(request)
        if any(viewer.can(p) for p in permissions):
            return viewer
        if not viewer.signed_in:
            raise NeedsLogin()
        raise Forbidden(" or ".join(permissions))

    def render(
        self, request: Request, template: str, viewer: Viewer, code: int = 200, **context: Any
    ) -> Response:
        body = self.env.get_template(template).render(
            prefix=self.prefix, viewer=viewer, refresh=self.refresh_seconds,
            path=request.url.path, **context,
        ).encode()  # fmt: skip
        tag = '"' + hashlib.blake2b(body, digest_size=12).hexdigest() + '"'
        headers = {**SECURITY_HEADERS, "etag": tag}
        if code == 200 and tag in request.headers.get("if-none-match", ""):
            return Response(status_code=304, headers=headers)
        return Response(body, code, headers=headers, media_type="text/html")

    def to_login(self, request: Request) -> Response:
        """Back to the login page, dropping an ended session's cookie."""
        target = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        response = RedirectResponse(f"{self.prefix}/login?next={_quote(target)}", 303)
        if SESSION_COOKIE in cookies_of(request.scope):
            response.headers.append("set-cookie", self.expired_cookie(request))
        return response

    def expired_cookie(self, request: Request) -> str:
        return cookie_header(SESSION_COOKIE, "", path=self.cookie_path, max_age=0,
                             secure=request.url.scheme == "https")  # fmt: skip

    @property
    def cookie_path(self) -> str:
        return self.prefix or "/"


def _quote(path: str) -> str:
    return quote(path, safe="/")


def page(handler: Handler) -> Handler:
    """A page handler whose ``NeedsLogin`` becomes the login page and ``Forbidden`` a 403."""

    async def run(self: Any, request: Request) -> Response:
        try:
            return await handler(self, request)
        except NeedsLogin:
            return self.pages.to_login(request)  # type: ignore[no-any-return]
        except Forbidden as exc:
            viewer = await self.pages.viewer(request)
            return self.pages.render(  # type: ignore[no-any-return]
                request, "denied.html", viewer, code=403, needed=exc.permission
            )

    return run
