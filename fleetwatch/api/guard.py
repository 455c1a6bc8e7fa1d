"""What the Starlette-routed API families share: the request's principal, permission checks,
request bodies (JSON or form) and store errors turned into API errors."""

from __future__ import annotations

from collections.abc import Awaitable
from typing import Any, TypeVar
from urllib.parse import parse_qsl

from starlette.requests import ClientDisconnect, Request

from fleetwatch.api import json_body
from fleetwatch.api.asgi import Receive, Scope
from fleetwatch.api.body_encoding import BodyReader, content_encoding
from fleetwatch.api.errors import (
    ApiError,
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    ServiceUnavailable,
    Unauthorized,
)
from fleetwatch.auth.admin import Actor
from fleetwatch.auth.authenticator import Authenticator, Principal
from fleetwatch.store import errors as store_errors

__all__ = [
    "STORAGE_BUSY",
    "STORAGE_DOWN",
    "Guard",
    "actor",
    "address_of",
    "checked",
    "from_store_error",
    "list_field",
    "text_field",
]

T = TypeVar("T")
# The server ends a body it cannot read (a malformed chunk size) the way a client that went
# away does: as a disconnect. If someone is still there, they get this 400.
UNREADABLE = "the body could not be read: a malformed chunked encoding, or the client went away"

STORAGE_BUSY = "storage busy: the write queue is full"
STORAGE_DOWN = "storage unavailable: the database cannot be reached"


def address_of(request: Request) -> str:
    return request.client.host if request.client else "unknown"


class Guard:
    """Resolves principals for the Starlette families and reads their bodies."""

    def __init__(self, auth: Authenticator, max_body_bytes: int) -> None:
        self.auth = auth
        self.max_body_bytes = max_body_bytes

    async def principal(self, request: Request) -> Principal:
        """The request's principal; ``Unauthorized`` without one."""
        return await self.scope_principal(request.scope)

    async def scope_principal(self, scope: Scope) -> Principal:
        """``principal`` for a plain ASGI endpoint (no ``Request`` built)."""
        client = scope.get("client")
        address = client[0] if client else "unknown"
        principal = await self.auth.resolve(scope["headers"], address)
        if principal is None:
            raise Unauthorized("authentication required")
        return principal

    async def require(self, request: Request, permission: str) -> Principal:
        principal = await self.principal(request)
        if not principal.can(permission):
            raise Forbidden(permission)
        return principal

    async def fields(self, request: Request) -> dict[str, Any]:
        """A JSON object or form body as a dict (form values that repeat become lists)."""
        body = await self.body(request)
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        if not body.strip():
            return {}
        if kind == "application/x-www-form-urlencoded":
            fields: dict[str, Any] = {}
            pairs = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
            json_body.check_texts(pairs)
            for key, value in pairs:
                if key in fields:
                    old = fields[key]
                    fields[key] = [*old, value] if isinstance(old, list) else [old, value]
                else:
                    fields[key] = value
            return fields
        value = json_body.load_json(body)
        if not isinstance(value, dict):
            raise BadRequest("the body must be a JSON object")
        return value

    async def body(self, request: Request) -> bytes:
        """The raw body (inflated when sent gzip-compressed), refused past ``max_body_bytes``
        (413) without reading it all."""
        reader = BodyReader(content_encoding(request.headers.raw), self.max_body_bytes)
        try:
            async for chunk in request.stream():
                reader.feed(chunk)
        except ClientDisconnect:
            raise BadRequest(UNREADABLE) from None
        return reader.finish()

    async def read_body(self, scope: Scope, receive: Receive) -> bytes:
        """``body`` for a plain ASGI endpoint, read straight from ``receive``."""
        reader = BodyReader(content_encoding(scope["headers"]), self.max_body_bytes)
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise BadRequest(UNREADABLE)
            reader.feed(message.get("body", b""))
            if not message.get("more_body", False):
                return reader.finish()


def actor(principal: Principal, request: Request) -> Actor:
    return Actor(principal.name, address_of(request))


def text_field(fields: dict[str, Any], *names: str, required: bool = True) -> str:
    """The first of ``names`` present, as a non-empty string; ``BadRequest`` naming it."""
    for name in names:
        if name in fields:
            value = fields[name]
            if not isinstance(value, str) or not value:
                raise BadRequest(f"{name} must be a non-empty string")
            return value
    if required:
        raise BadRequest(f"{names[0]} is required")
    return ""


def list_field(fields: dict[str, Any], name: str) -> list[str]:
    """A string or a list of strings."""
    value = fields.get(name, [])
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise BadRequest(f"{name} must be a string or a list of strings")
    return value


def from_store_error(exc: Exception) -> ApiError:
    """Store and validation errors as API errors; anything else is a bug (500)."""
    if isinstance(exc, ApiError):
        return exc
    # Both retry later; the words say whether the hub is busy or its database is gone.
    if isinstance(exc, store_errors.StoreOverloaded):
        return ServiceUnavailable(STORAGE_BUSY, retry_after=exc.retry_after)
    if isinstance(exc, store_errors.StoreUnavailable):
        return ServiceUnavailable(STORAGE_DOWN, retry_after=exc.retry_after)
    if isinstance(exc, store_errors.NotFound):
        return NotFound(str(exc))
    if isinstance(exc, store_errors.Conflict):
        # A driver's wording (from exc) names tables; our own wording names the object.
        return Conflict("that name is taken" if exc.__cause__ else str(exc))
    if isinstance(exc, ValueError):
        return BadRequest(str(exc))
    raise exc


async def checked(operation: Awaitable[T]) -> T:
    """Await an admin operation, turning its bad-input ``ValueError`` into ``BadRequest``."""
    try:
        return await operation
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
