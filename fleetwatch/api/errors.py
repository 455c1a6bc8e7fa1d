"""Errors that carry their HTTP status; each API family renders them in its own shape.

ApiError                 status + message
 +-- BadRequest          400: a malformed parameter (names it)
 |    +-- QueryError     400: a bad list parameter, with its Rocket.Chat errorType
 +-- Unauthorized        401: no or bad credentials
 +-- Forbidden           403: a missing permission (names it)
 +-- CrossSiteRefused    403: a state change a browser sent for another site
 +-- NotFound            404: an unknown plugin, item, pid, object
 +-- MethodNotAllowed    405
 +-- Conflict            409: the name is taken
 +-- RequestTimeout      408: the body came too slowly (the connection is closed)
 +-- PayloadTooLarge     413
 +-- UnsupportedMediaType 415: a browser's body that is not JSON where JSON is expected
 +-- TooManyRequests     429: too many failed logins or connections (carries Retry-After)
 +-- ServiceUnavailable  503: overloaded or storage unavailable (carries Retry-After)
"""

from __future__ import annotations


class ApiError(Exception):
    status = 500

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class BadRequest(ApiError):
    status = 400


class QueryError(BadRequest):
    def __init__(self, message: str, error_type: str) -> None:
        super().__init__(message)
        self.error_type = error_type


class Unauthorized(ApiError):
    status = 401


class Forbidden(ApiError):
    status = 403

    def __init__(self, permission: str) -> None:
        super().__init__(f"Missing permission: {permission}")
        self.permission = permission


class CrossSiteRefused(ApiError):
    status = 403


class NotFound(ApiError):
    status = 404


class MethodNotAllowed(ApiError):
    status = 405

    def __init__(self, message: str, allowed: tuple[str, ...]) -> None:
        super().__init__(message)
        self.allowed = allowed


class Conflict(ApiError):
    status = 409


class RequestTimeout(ApiError):
    status = 408


class PayloadTooLarge(ApiError):
    status = 413


class UnsupportedMediaType(ApiError):
    status = 415


class TooManyRequests(ApiError):
    status = 429

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class ServiceUnavailable(ApiError):
    status = 503

    def __init__(self, message: str, retry_after: float = 1.0) -> None:
        super().__init__(message)
        self.retry_after = retry_after
