"""``/login`` and ``/logout``: a console session opened and ended with the API's own calls.

The login form carries a CSRF token too, bound to a short-lived pre-login cookie (there is no
session yet to bind it to), so another site cannot sign a browser in under its own account.
"""

from __future__ import annotations

import hmac
import secrets
from urllib.parse import parse_qsl

from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from fleetwatch.api.errors import TooManyRequests, Unauthorized
from fleetwatch.api.guard import Guard, address_of
from fleetwatch.auth.permissions import (
    HOST_VIEW_ALL,
    MANAGE_SYSTEMS,
    MANAGE_USERS,
    SERVICE_VIEW_ALL,
    VIEW_EVENTS,
    VIEW_STATISTICS,
)
from fleetwatch.web.pages import Pages, Viewer
from fleetwatch.web.session import (
    CSRF_FIELD,
    PRE_LOGIN_COOKIE,
    SESSION_COOKIE,
    cookie_header,
    cookies_of,
    csrf_token,
)

__all__ = ["Login", "first_page"]

MAX_FIELD_CHARS = 1024
PRE_LOGIN_SECONDS = 3600


def first_page(viewer: Viewer, prefix: str) -> str:
    """Where a user lands: the first page their permissions show."""
    for permission, path in (
        (VIEW_STATISTICS, "/"), (SERVICE_VIEW_ALL, "/checks"), (HOST_VIEW_ALL, "/checks"),
        (VIEW_EVENTS, "/events"), (MANAGE_SYSTEMS, "/admin"), (MANAGE_USERS, "/admin"),
    ):  # fmt: skip
        if viewer.can(permission):
            return prefix + path
    return prefix + "/login"


class Login:
    def __init__(self, pages: Pages, guard: Guard) -> None:
        self.pages = pages
        self.guard = guard

    async def form(self, request: Request) -> Response:
        return self._form(request, "", 200)

    def _form(self, request: Request, error: str, status: int, name: str = "") -> Response:
        secure = request.url.scheme == "https"
        pre = cookies_of(request.scope).get(PRE_LOGIN_COOKIE) or secrets.token_urlsafe(24)
        anonymous = Viewer(self.pages.anonymous_principal(), csrf_token(pre))
        response = self.pages.render(
            request, "login.html", anonymous, code=status, error=error, name=name,
            next=_safe_next(request.query_params.get("next", ""), self.pages.prefix),
        )  # fmt: skip
        response.headers.append("set-cookie", cookie_header(
            PRE_LOGIN_COOKIE, pre, path=self.pages.cookie_path, secure=secure,
            max_age=PRE_LOGIN_SECONDS))  # fmt: skip
        if SESSION_COOKIE in cookies_of(request.scope):
            response.headers.append("set-cookie", self.pages.expired_cookie(request))
        return response

    async def submit(self, request: Request) -> Response:
        fields = dict(parse_qsl((await self.guard.body(request)).decode("utf-8", "replace")))
        pre = cookies_of(request.scope).get(PRE_LOGIN_COOKIE, "")
        sent = fields.get(CSRF_FIELD, "")
        if not pre or not hmac.compare_digest(sent, csrf_token(pre)):
            return self._form(request, "The form expired: please sign in again.", 403)
        name = fields.get("name", "")[:MAX_FIELD_CHARS]
        password = fields.get("password", "")[:MAX_FIELD_CHARS]
        try:
            principal, secret = await self.guard.auth.login(name, password, address_of(request))
        except TooManyRequests:
            return self._form(request, "Too many failed attempts: try again later.", 429, name)
        except Unauthorized:
            return self._form(request, "Wrong user name or password.", 401, name)
        viewer = Viewer(principal, "")
        target = _safe_next(fields.get("next", ""), self.pages.prefix)
        response = RedirectResponse(target or first_page(viewer, self.pages.prefix), 303)
        response.headers.append("set-cookie", cookie_header(
            SESSION_COOKIE, secret, path=self.pages.cookie_path,
            secure=request.url.scheme == "https",
            max_age=int(self.guard.auth.login_token_seconds)))  # fmt: skip
        return response

    async def logout(self, request: Request) -> Response:
        """Ends the session (the gate already checked its CSRF token)."""
        viewer = await self.pages.viewer(request)
        if viewer.signed_in:
            await self.guard.auth.logout(viewer.principal, address_of(request))
        response = RedirectResponse(f"{self.pages.prefix}/login", 303)
        response.headers.append("set-cookie", self.pages.expired_cookie(request))
        return response


def _safe_next(target: str, prefix: str) -> str:
    """Only a path of this hub: never another site (``//evil``, ``https://...``)."""
    if not target.startswith(prefix + "/") or target.startswith("//") or "\\" in target:
        return ""
    if target.startswith(prefix + "/login") or len(target) > MAX_FIELD_CHARS:
        return ""
    return target
