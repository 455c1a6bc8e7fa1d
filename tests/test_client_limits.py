"""Slow and greedy clients in process (issue #17, item 2): the body's deadline and rate, the
per-address cap and the reserve, and the refusals in each family's error shape."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import orjson
import pytest
from hubs import make_hub, started

from fleetwatch.api.asgi import Message
from fleetwatch.api.client_limits import RESERVE_SHARE, Admission, ConnectionLimits
from fleetwatch.api.errors import ServiceUnavailable, TooManyRequests
from fleetwatch.app import Hub
from fleetwatch.config import ConfigError

pytestmark = pytest.mark.anyio


def scope(path: str, client: str = "127.0.0.1", method: str = "POST") -> dict[str, Any]:
    return {"type": "http", "method": method, "path": path, "raw_path": path.encode(),
            "query_string": b"", "headers": [(b"host", b"127.0.0.1:61208"),
                                             (b"content-type", b"application/json"),
                                             (b"content-length", b"100000")],
            "client": (client, 40000), "server": ("127.0.0.1", 61208), "scheme": "http",
            "http_version": "1.1", "root_path": "", "asgi": {"version": "3.0"}}  # fmt: skip


async def call(
    hub: Hub, path: str, chunks: list[bytes], pause: float, hang: bool
) -> dict[str, Any]:
    """Send ``chunks`` ``pause`` seconds apart (then hang, or end the body); the answer."""
    sent: list[Message] = []
    queue = list(chunks)

    async def receive() -> dict[str, Any]:
        if not queue:
            if hang:
                await asyncio.Event().wait()
            return {"type": "http.disconnect"}
        await asyncio.sleep(pause)  # the client's own pace
        chunk = queue.pop(0)
        return {"type": "http.request", "body": chunk, "more_body": bool(queue) or hang}

    async def send(message: Message) -> None:
        sent.append(message)

    await asyncio.wait_for(hub.app(scope(path), receive, send), timeout=10)
    start = sent[0]
    body = b"".join(m.get("body", b"") for m in sent[1:])
    return {"status": start["status"], "headers": dict(start["headers"]),
            "json": orjson.loads(body) if body else None}  # fmt: skip


async def test_a_body_that_stalls_gets_408_in_the_family_shape_and_a_close(
    tmp_path: Path,
) -> None:
    hub = await started(make_hub(tmp_path, body_timeout_seconds=0.3))
    login = await call(hub, "/api/v1/login", [b'{"username": '], 0, hang=True)
    assert login["status"] == 408
    assert login["headers"][b"connection"] == b"close"
    assert login["json"]["success"] is False  # Rocket.Chat's shape
    assert "too slowly" in login["json"]["error"]


async def test_a_body_that_keeps_the_minimum_rate_is_never_cut(tmp_path: Path) -> None:
    # 0.3 s allowed plus 1 s per 1000 bytes: 200 bytes every 0.1 s stays ahead of it for as
    # long as it goes on, though the whole body takes twice body_timeout_seconds.
    hub = await started(make_hub(tmp_path, body_timeout_seconds=0.3,
                                 body_min_bytes_per_second=1000))  # fmt: skip
    body = b'{"username": "nobody", "password": "' + b"x" * 1000 + b'"}'
    chunks = [body[i : i + 200] for i in range(0, len(body), 200)]
    answer = await call(hub, "/api/v1/login", chunks, 0.1, hang=False)
    assert answer["status"] == 401  # read whole, then refused as a bad login: not a 408


async def test_one_address_over_its_cap_gets_429_while_others_are_served(tmp_path: Path) -> None:
    hub = await started(make_hub(tmp_path, max_connections_per_address=3,
                                 body_timeout_seconds=5.0))  # fmt: skip
    holding: list[asyncio.Task[None]] = []
    stop = asyncio.Event()

    async def hang() -> dict[str, Any]:
        await stop.wait()
        return {"type": "http.disconnect"}

    async def ignore(_: Message) -> None:
        return None

    for _ in range(3):
        holding.append(asyncio.create_task(
            hub.app(scope("/api/v1/login", "127.0.0.2"), hang, ignore)))  # fmt: skip
    await asyncio.sleep(0)  # the three are admitted: no waiting on anything
    assert hub._front.admission.held == {"127.0.0.2": 3}  # type: ignore[attr-defined]
    sent: list[Message] = []

    async def record(message: Message) -> None:
        sent.append(message)

    await hub.app(scope("/api/external/submit_stats", "127.0.0.2"), hang, record)
    assert sent[0]["status"] == 429
    assert (b"retry-after", b"5") in sent[0]["headers"]
    assert orjson.loads(sent[1]["body"])["code"] == "429"  # TrueCommand's shape
    other: list[Message] = []

    async def record_other(message: Message) -> None:
        other.append(message)

    async def nothing() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    await hub.app(scope("/api/4/status", "127.0.0.3", "GET"), nothing, record_other)
    assert other[0]["status"] == 200
    stop.set()
    await asyncio.gather(*holding)
    assert hub._front.admission.held == {}  # type: ignore[attr-defined]


def test_the_reserve_keeps_room_for_light_addresses() -> None:
    admission = Admission(ConnectionLimits(max_connections=20, per_address=15, reserved=5))
    assert all(admission.admit("10.0.0.2") is None for _ in range(15))
    assert isinstance(admission.admit("10.0.0.2"), TooManyRequests)
    # A second heavy address reaches the reserve's edge (15 of 20), then holds only a few.
    assert all(admission.admit("10.0.0.3") is None for _ in range(RESERVE_SHARE))
    assert isinstance(admission.admit("10.0.0.3"), ServiceUnavailable)
    # Anyone holding less than RESERVE_SHARE still gets in, up to the hard ceiling.
    assert admission.admit("10.0.0.4") is None
    assert admission.total == 20
    assert isinstance(admission.admit("10.0.0.5"), ServiceUnavailable)
    admission.release("10.0.0.2")
    assert admission.admit("10.0.0.5") is None


@pytest.mark.parametrize(
    ("key", "value"),
    [("body_timeout_seconds", 0), ("max_connections_per_address", -1),
     ("reserved_connections", 5000)],
)  # fmt: skip
def test_limits_that_would_refuse_everyone_stop_the_start(
    tmp_path: Path, key: str, value: int
) -> None:
    with pytest.raises(ConfigError, match=f"server.{key} must be"):
        make_hub(tmp_path, **{key: value})
