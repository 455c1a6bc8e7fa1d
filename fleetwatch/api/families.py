"""Which API family a path belongs to, so that a refusal made before routing (a slow body, a
cross-site request, too many connections) still comes in that family's error shape."""

from __future__ import annotations

from fleetwatch.api.asgi import Send, send_json
from fleetwatch.api.errors import ApiError
from fleetwatch.api.shapes import (
    Rendered,
    glances_error,
    op5_error,
    rocketchat_error,
    truecommand_error,
)

__all__ = ["render_for", "send_error"]

# Path prefixes (after the hub's url_prefix) and their family; the rest is Glances' shape.
_FAMILIES = (
    ("/api/v1/", rocketchat_error),
    ("/api/command/", op5_error),
    ("/api/status/", op5_error),
    ("/api/filter/", op5_error),
    ("/api/config/", op5_error),
    ("/api/servers/", truecommand_error),
    ("/api/external/", truecommand_error),
)
CLOSE = (b"connection", b"close")


def render_for(path: str, url_prefix: str, exc: ApiError) -> Rendered:
    inner = path[len(url_prefix) :] if url_prefix and path.startswith(url_prefix) else path
    inner = inner if inner.endswith("/") else inner + "/"
    for prefix, render in _FAMILIES:
        if inner.startswith(prefix):
            return render(exc)
    return glances_error(exc)


async def send_error(
    send: Send, path: str, url_prefix: str, exc: ApiError, *, close: bool = False
) -> None:
    """Answer ``exc`` in the family's shape; ``close`` asks the engine to drop the connection."""
    status, body, headers = render_for(path, url_prefix, exc)
    await send_json(send, status, body, headers=[*headers, CLOSE] if close else headers)
