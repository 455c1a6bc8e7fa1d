"""Slow and greedy clients: what one address may hold, and how slowly a body may come.

Two parts, both in front of every route:

* ``Admission`` counts what each client address holds (requests in progress here; open
  connections in the uvicorn engine, see ``fleetwatch.uvicorn_limits``). An address at its
  ``per_address`` cap is refused 429, and once the hub as a whole is within ``reserved`` of
  ``max_connections`` only addresses holding fewer than ``RESERVE_SHARE`` get in (503): the
  reserve is what keeps ``/api/4/status``, logins and submissions of other clients answered
  while one address, or a few, hold everything they can.
* ``BodyDeadline`` wraps ``receive``: a body must arrive within ``body_timeout`` plus the time
  its bytes so far would take at ``body_min_rate`` (the rule Caddy's ``read_timeout
  <duration> <min_rate>`` uses: a client that keeps sending at the rate is never cut, one
  that trickles a byte at a time is cut after about ``body_timeout``). Late, the client gets
  408 with ``Connection: close`` and the endpoint sees a disconnect.

Header reading has its deadline in the engine (Granian's ``header_read_timeout``, our uvicorn
protocol's timer): no ASGI code runs before the headers are complete.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.requests import ClientDisconnect

from fleetwatch.api.asgi import ASGIApp, Message, Receive, Scope, Send
from fleetwatch.api.errors import ApiError, RequestTimeout, ServiceUnavailable, TooManyRequests
from fleetwatch.api.families import send_error

__all__ = ["RESERVE_SHARE", "Admission", "BodyDeadline", "ClientLimits", "ConnectionLimits"]

# Within the reserve, an address holding this many already waits: enough for an agent's
# submission beside a dashboard's poll, too few to eat the reserve.
RESERVE_SHARE = 4
# How often late bodies are looked for: a body is cut at most this much after its deadline.
WATCH_SECONDS = 0.25


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    """The ``server.*`` limits on slow and greedy clients (see config.py for their meaning)."""

    header_timeout: float = 10.0
    idle_timeout: float = 75.0
    body_timeout: float = 10.0
    body_min_rate: int = 1024
    max_connections: int = 4096
    per_address: int = 128
    reserved: int = 256


class Admission:
    """Counts per client address and in all; ``admit`` says why not, or takes a place."""

    def __init__(self, limits: ConnectionLimits) -> None:
        self.limits = limits
        self.held: dict[str, int] = {}
        self.total = 0

    def admit(self, address: str) -> ApiError | None:
        """None and one place taken, or the refusal to answer (nothing taken)."""
        mine = self.held.get(address, 0)
        limits = self.limits
        if mine >= limits.per_address:
            return TooManyRequests(
                f"too many connections from {address} (at most {limits.per_address})",
                retry_after=limits.body_timeout,
            )
        above_reserve = self.total >= limits.max_connections - limits.reserved
        if self.total >= limits.max_connections or (above_reserve and mine >= RESERVE_SHARE):
            return ServiceUnavailable("the hub is at its connection limit", retry_after=1.0)
        self.held[address] = mine + 1
        self.total += 1
        return None

    def release(self, address: str) -> None:
        self.total -= 1
        left = self.held[address] - 1
        if left:
            self.held[address] = left
        else:
            del self.held[address]


class BodyDeadline:
    """``receive`` and ``send`` of one request, with the body's deadline and rate.

    No timer per ``receive``: ``asyncio.timeout`` cost 10-15 µs a call, a tenth of a small
    submission. ``ClientLimits``' watchdog looks at the open bodies a few times a second and
    cancels the ``receive`` of a late one (``check``), which turns into the 408 here.
    """

    __slots__ = ("_answer_late", "_body_done", "_cut", "_deadline_base", "_limits", "_receive",
                 "_received", "_response_started", "_send", "_waiting", "answered")  # fmt: skip

    def __init__(
        self,
        receive: Receive,
        send: Send,
        limits: ConnectionLimits,
        answer_late: Callable[[Send], Awaitable[None]],
        now: float,
    ) -> None:
        self._receive = receive
        self._send = send
        self._limits = limits
        self._answer_late = answer_late
        self._deadline_base = now + limits.body_timeout
        self._received = 0
        self._body_done = False
        self._response_started = False
        self._waiting: asyncio.Task[Any] | None = None  # the task inside receive, if any
        self._cut = False  # the watchdog cancelled that receive
        self.answered = False  # the 408 went out: the endpoint's own answer is dropped

    def deadline(self) -> float:
        return self._deadline_base + self._received / self._limits.body_min_rate

    def check(self, now: float) -> None:
        """The watchdog's look: cut a receive that waits past the deadline."""
        if self._waiting is not None and not self._cut and now > self.deadline():
            self._cut = True
            self._waiting.cancel()

    async def receive(self) -> Message:
        if self.answered:
            return {"type": "http.disconnect"}
        if self._body_done:  # waiting for a disconnect (streaming responses) has no deadline
            return await self._receive()
        task = asyncio.current_task()
        if task is None or time.monotonic() > self.deadline():
            await self._late()
            return {"type": "http.disconnect"}
        self._waiting = task
        try:
            message = await self._receive()
        except asyncio.CancelledError:
            if not self._cut:
                raise
            task.uncancel()
            await self._late()
            return {"type": "http.disconnect"}
        finally:
            self._waiting = None
        if message["type"] == "http.request":
            self._received += len(message.get("body", b""))
            self._body_done = not message.get("more_body", False)
        return message

    async def _late(self) -> None:
        self.answered = True
        if not self._response_started:
            self._response_started = True
            await self._answer_late(self._send)

    async def send(self, message: Message) -> None:
        if self.answered:
            return
        if message["type"] == "http.response.start":
            self._response_started = True
        await self._send(message)


class ClientLimits:
    """ASGI middleware applying ``Admission`` and ``BodyDeadline`` to every HTTP request."""

    def __init__(self, app: ASGIApp, limits: ConnectionLimits, url_prefix: str = "") -> None:
        self.app = app
        self.limits = limits
        self.admission = Admission(limits)
        self.url_prefix = url_prefix
        self._open: set[BodyDeadline] = set()
        self._watchdog: asyncio.Task[None] | None = None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        client = scope.get("client")
        address = client[0] if client else ""
        path: str = scope["path"]
        refused = self.admission.admit(address)
        if refused is not None:
            await send_error(send, path, self.url_prefix, refused, close=True)
            return

        async def answer_late(raw_send: Send) -> None:
            await send_error(raw_send, path, self.url_prefix, self._late(), close=True)

        body = BodyDeadline(receive, send, self.limits, answer_late, time.monotonic())
        self._open.add(body)
        if self._watchdog is None:
            self._watchdog = asyncio.create_task(self._watch(), name="body-deadlines")
        try:
            await self.app(scope, body.receive, body.send)
        except ClientDisconnect:
            pass  # gone, or cut for its slow body (answered 408): nobody to answer
        finally:
            self._open.discard(body)
            self.admission.release(address)

    async def _watch(self) -> None:
        """Look at the open bodies every WATCH_SECONDS while there are any; then end."""
        try:
            while self._open:
                await asyncio.sleep(WATCH_SECONDS)
                now = time.monotonic()
                for body in list(self._open):
                    body.check(now)
        finally:
            self._watchdog = None

    def _late(self) -> RequestTimeout:
        limits = self.limits
        return RequestTimeout(
            f"the request body came too slowly (within {limits.body_timeout:g} s, then at "
            f"least {limits.body_min_rate} bytes a second)"
        )
