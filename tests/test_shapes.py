"""Each API family's error body, pinned (Datasette's test_error_shape habit)."""

from __future__ import annotations

from fleetwatch.api.errors import (
    Forbidden,
    MethodNotAllowed,
    NotFound,
    TooManyRequests,
    Unauthorized,
)
from fleetwatch.api.shapes import glances_error, op5_error, rocketchat_error, truecommand_error


def test_glances_shape() -> None:
    status, body, headers = glances_error(Unauthorized("Authentication required"))
    assert (status, body) == (401, {"detail": "Authentication required"})
    assert dict(headers)[b"www-authenticate"].startswith(b"Basic ")
    status, body, headers = glances_error(MethodNotAllowed("no", ("GET", "HEAD")))
    assert (status, dict(headers)[b"allow"]) == (405, b"GET, HEAD")


def test_rocketchat_shape() -> None:
    message = "You must be logged in to do this."
    assert rocketchat_error(Unauthorized("anything"))[:2] == (
        401,
        {"success": False, "status": "error", "message": message, "error": message},
    )
    status, body, _ = rocketchat_error(Forbidden("manage-users"))
    assert status == 403
    assert body["error"] == body["errorType"] == "error-not-allowed"
    assert body["message"] == "Missing permission: manage-users"
    assert body["permission"] == "manage-users"
    assert body["success"] is False


def test_op5_shape() -> None:
    assert op5_error(Unauthorized("bad credentials"))[:2] == (
        401,
        {"error": "Unauthorized", "full_error": "bad credentials"},
    )
    assert op5_error(NotFound("no host 'x'"))[1] == {
        "error": "Not Found",
        "full_error": "no host 'x'",
    }


def test_truecommand_shape() -> None:
    assert truecommand_error(Unauthorized("bad token"))[:2] == (
        401,
        {"error": "bad token", "code": "401", "message": "Unauthorized"},
    )


def test_429_carries_retry_after_in_every_shape() -> None:
    for render in (glances_error, rocketchat_error, op5_error, truecommand_error):
        status, _, headers = render(TooManyRequests("slow down", retry_after=2.2))
        assert status == 429
        assert dict(headers)[b"retry-after"] == b"3"
