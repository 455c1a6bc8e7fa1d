"""Minimal ASGI plumbing for the hot paths: send cached bytes without building objects."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

import orjson

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]
ASGIApp = Callable[[Scope, Receive, Send], Awaitable[None]]

JSON = b"application/json"


async def send_body(
    send: Send,
    status: int,
    body: bytes,
    *,
    content_type: bytes = JSON,
    headers: list[tuple[bytes, bytes]] | None = None,
    head: bool = False,
) -> None:
    raw = [(b"content-type", content_type), (b"content-length", str(len(body)).encode())]
    if headers:
        raw.extend(headers)
    await send({"type": "http.response.start", "status": status, "headers": raw})
    await send({"type": "http.response.body", "body": b"" if head else body})


async def send_json(
    send: Send,
    status: int,
    value: Any,
    *,
    headers: list[tuple[bytes, bytes]] | None = None,
    head: bool = False,
) -> None:
    body = orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS)
    await send_body(send, status, body, headers=headers, head=head)


def header(scope: Scope, name: bytes) -> bytes | None:
    for key, value in scope.get("headers", ()):
        if key == name:
            return bytes(value)
    return None


def accepts_gzip(scope: Scope) -> bool:
    value = header(scope, b"accept-encoding")
    return value is not None and b"gzip" in value.lower()
