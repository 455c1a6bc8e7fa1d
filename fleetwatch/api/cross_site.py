"""Refusing state changes that a browser makes on behalf of another site.

A page on another site can make a visitor's browser POST a form or ``text/plain`` body to
the hub, with the Basic credentials the browser holds for it, or with none on a loopback
bind where clearing events needs none. Browsers say where such a request comes from:
``Sec-Fetch-Site`` (``cross-site``, ``same-site``, ``same-origin``, ``none``) and ``Origin``.
So, for every unsafe method (anything but GET, HEAD, OPTIONS) on every route:

* ``Sec-Fetch-Site: cross-site`` is refused, and ``same-site`` too unless ``Origin`` is the
  hub's own;
* an ``Origin`` must be the hub's own (the host and port of the ``Host`` it was asked by,
  default ports folded; not the scheme, which a TLS-terminating proxy changes) or one of
  ``server.allowed_origins``; ``Origin: null`` (sandboxed frames, ``file:`` pages) is
  refused;
* a browser's body to an API route (``/api/``, ``/systems/``) must be declared JSON: a form or
  ``text/plain`` body is what a cross-site page can send without a preflight (415).

Clients that are not browsers (curl, ``fleetwatch push`` and ``report``, Glances, the OP5,
Rocket.Chat and TrueCommand clients) send neither header and pass untouched, whatever their
``Content-Type`` (TrueCommand's own example posts JSON as curl's default form type). This is
the general layer; cookie sessions add their CSRF token on top (the console).
Refusals are 403 (415 for the type) in the route's family's error shape.
"""

from __future__ import annotations

from collections.abc import Iterable

from fleetwatch.api.asgi import ASGIApp, Receive, Scope, Send, header
from fleetwatch.api.errors import ApiError, CrossSiteRefused, UnsupportedMediaType
from fleetwatch.api.families import send_error

__all__ = ["CrossSiteGuard", "parse_origins"]

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
DEFAULT_PORTS = {"http": "80", "https": "443"}
API_PATHS = ("/api/", "/systems/")


def parse_origins(value: str) -> frozenset[str]:
    """``server.allowed_origins``: comma-separated ``scheme://host[:port]``, normalised."""
    origins = set()
    for raw in value.split(","):
        item = raw.strip().rstrip("/")
        if not item:
            continue
        scheme, sep, rest = item.partition("://")
        if not sep or not rest or "/" in rest or scheme.lower() not in DEFAULT_PORTS:
            raise ValueError(f"server.allowed_origins: {item!r} is not scheme://host[:port]")
        origins.add(_normal(scheme.lower(), rest.lower()))
    return frozenset(origins)


def _normal(scheme: str, netloc: str) -> str:
    default = f":{DEFAULT_PORTS.get(scheme, '')}"
    return f"{scheme}://{netloc.removesuffix(default)}"


class CrossSiteGuard:
    """ASGI middleware applying the rules above before any route runs."""

    def __init__(self, app: ASGIApp, url_prefix: str = "", allowed: Iterable[str] = ()) -> None:
        self.app = app
        self.url_prefix = url_prefix
        self.allowed = frozenset(allowed)
        self._api_paths = tuple(url_prefix + p for p in API_PATHS)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] not in SAFE_METHODS:
            refused = self.refusal(scope)
            if refused is not None:
                await send_error(send, scope["path"], self.url_prefix, refused)
                return
        await self.app(scope, receive, send)

    def refusal(self, scope: Scope) -> ApiError | None:
        """Why an unsafe request is refused, or None."""
        site = header(scope, b"sec-fetch-site")
        raw_origin = header(scope, b"origin")
        if site is None and raw_origin is None:
            return None  # not a browser
        origin = raw_origin.decode("latin-1").strip().lower() if raw_origin else None
        ours = origin is not None and self._is_own(scope, origin)
        allowed = origin is not None and (ours or origin in self.allowed)
        kind = site.decode("latin-1").strip().lower() if site else ""
        if kind == "cross-site" and not allowed:
            return CrossSiteRefused("cross-site requests may not change state (Sec-Fetch-Site)")
        if kind == "same-site" and not allowed:
            return CrossSiteRefused("requests from another origin of this site may not change "
                                    "state (Sec-Fetch-Site: same-site)")  # fmt: skip
        if origin is not None and not allowed:
            return CrossSiteRefused(f"Origin {origin} may not change state here "
                                    "(see server.allowed_origins)")  # fmt: skip
        if self._is_api(scope["path"]) and self._has_body(scope) and not self._json(scope):
            return UnsupportedMediaType("a browser's request body must be application/json")
        return None

    def _is_own(self, scope: Scope, origin: str) -> bool:
        host = header(scope, b"host")
        if host is None or "://" not in origin:
            return False
        scheme, _, netloc = origin.partition("://")
        return _normal(scheme, netloc) == _normal(scheme, host.decode("latin-1").lower())

    def _is_api(self, path: str) -> bool:
        return path.startswith(self._api_paths)

    @staticmethod
    def _has_body(scope: Scope) -> bool:
        length = header(scope, b"content-length")
        return header(scope, b"transfer-encoding") is not None or (
            length is not None and length.strip() not in (b"", b"0")
        )

    @staticmethod
    def _json(scope: Scope) -> bool:
        value = header(scope, b"content-type")
        if value is None:
            return False
        kind = value.split(b";", 1)[0].strip().lower()
        return kind == b"application/json" or kind.endswith(b"+json")
