"""Each API family's error body: one place that turns an ``ApiError`` into a family's shape.

* Glances (``/api/4``): ``{"detail": ...}``, 401 with ``WWW-Authenticate: Basic``;
* Rocket.Chat (``/api/v1``): ``{"success": false, "status": "error", "error": ...}``; a 403
  has ``"error": "error-not-allowed"`` and names the permission; a bad list parameter adds its
  ``errorType`` (``error-invalid-query``...); its 401 is exactly ``{"success": false,
  "status": "error", "message": "You must be logged in to do this.", "error": "You must be
  logged in to do this."}``;
* OP5 (``/api/command``...): ``{"error": <title>, "full_error": ...}``;
* TrueCommand (``/api/servers``, ``/api/external``...): ``{"error": ..., "code": "<status>",
  "message": <title>}``.

Every renderer returns ``(status, body, headers)``; ``Retry-After`` and ``Allow`` come along.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from http import HTTPStatus
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from fleetwatch.api.errors import (
    ApiError,
    Forbidden,
    MethodNotAllowed,
    QueryError,
    ServiceUnavailable,
    TooManyRequests,
    Unauthorized,
)
from fleetwatch.api.guard import from_store_error

__all__ = [
    "LOGGED_OUT_MESSAGE",
    "Rendered",
    "glances_error",
    "handler",
    "op5_error",
    "rocketchat_error",
    "truecommand_error",
]

Rendered = tuple[int, dict[str, Any], list[tuple[bytes, bytes]]]
LOGGED_OUT_MESSAGE = "You must be logged in to do this."
BASIC_CHALLENGE = (b"www-authenticate", b'Basic realm="fleetwatch", charset="UTF-8"')


def _headers(exc: ApiError) -> list[tuple[bytes, bytes]]:
    headers: list[tuple[bytes, bytes]] = []
    if isinstance(exc, TooManyRequests | ServiceUnavailable):
        headers.append((b"retry-after", str(max(1, math.ceil(exc.retry_after))).encode()))
    if isinstance(exc, MethodNotAllowed):
        headers.append((b"allow", ", ".join(exc.allowed).encode()))
    return headers


def _title(status: int) -> str:
    return HTTPStatus(status).phrase


def glances_error(exc: ApiError) -> Rendered:
    headers = _headers(exc)
    if isinstance(exc, Unauthorized):
        headers.append(BASIC_CHALLENGE)
    return exc.status, {"detail": exc.message}, headers


def rocketchat_error(exc: ApiError) -> Rendered:
    if isinstance(exc, Unauthorized):
        logged_out = {"success": False, "status": "error", "message": LOGGED_OUT_MESSAGE,
                      "error": LOGGED_OUT_MESSAGE}  # fmt: skip
        return exc.status, logged_out, _headers(exc)
    body: dict[str, Any] = {"success": False, "status": "error", "error": exc.message}
    if isinstance(exc, Forbidden):
        # Rocket.Chat's own refusal: the error code as the error, the reason in the message.
        body.update(error="error-not-allowed", errorType="error-not-allowed",
                    message=exc.message, permission=exc.permission)  # fmt: skip
    elif isinstance(exc, QueryError):
        body.update(error=exc.message, errorType=exc.error_type)
    return exc.status, body, _headers(exc)


def op5_error(exc: ApiError) -> Rendered:
    return exc.status, {"error": _title(exc.status), "full_error": exc.message}, _headers(exc)


def truecommand_error(exc: ApiError) -> Rendered:
    body = {"error": exc.message, "code": str(exc.status), "message": _title(exc.status)}
    return exc.status, body, _headers(exc)


def handler(render: Callable[[ApiError], Rendered]) -> Callable[[Request, Exception], Response]:
    """A Starlette exception handler rendering ``ApiError`` in one family's shape."""

    def handle(_: Request, exc: Exception) -> Response:
        status, body, headers = render(from_store_error(exc))
        response = JSONResponse(body, status_code=status)
        for key, value in headers:
            response.headers[key.decode()] = value.decode()
        return response

    return handle
