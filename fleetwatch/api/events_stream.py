"""``GET /api/v1/events.stream``: the hub's events as Server-Sent Events, for ``view-events``.

Each event is ``id:`` (resume from it with ``Last-Event-ID``), ``event:`` (its kind) and
``data:`` (one JSON object); a comment line every ``heartbeat`` seconds keeps proxies from
closing an idle stream and lets the hub notice a client that went away. Streams are bounded in
number (503 past ``max_streams``), in what each holds for a slow reader, and in time
(``max_stream_seconds``, after which the client reconnects and resumes).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import AsyncIterator

from starlette.requests import Request
from starlette.responses import Response, StreamingResponse
from starlette.routing import Route

from fleetwatch.api.errors import BadRequest, ServiceUnavailable
from fleetwatch.api.guard import Guard
from fleetwatch.auth.permissions import VIEW_EVENTS
from fleetwatch.engine.event_stream import EventStreams, Stream, StreamItem, TooManyStreams

__all__ = ["EventStreamAPI"]


def frame(item: StreamItem) -> bytes:
    head = f"id: {item.id}\n" if item.id is not None else ""
    return f"{head}event: {item.event}\n".encode() + b"data: " + item.data + b"\n\n"


class EventStreamAPI:
    def __init__(self, guard: Guard, streams: EventStreams, heartbeat: float = 15.0) -> None:
        self.guard = guard
        self.streams = streams
        self.heartbeat = heartbeat

    async def stream(self, request: Request) -> Response:
        """Server-Sent Events of every event change, resumable with Last-Event-ID."""
        await self.guard.require(request, VIEW_EVENTS)
        raw = request.headers.get("last-event-id") or request.query_params.get("lastEventId")
        last: int | None = None
        if raw:
            if not raw.isdigit() or len(raw) > 18:
                raise BadRequest("Last-Event-ID must be an event id from this stream")
            last = int(raw)
        try:
            items = await self.streams.subscribe(last)
        except TooManyStreams as exc:
            raise ServiceUnavailable(str(exc), retry_after=5.0) from None
        headers = {"Cache-Control": "no-store", "X-Accel-Buffering": "no"}
        return StreamingResponse(self._frames(items), media_type="text/event-stream",
                                 headers=headers)  # fmt: skip

    async def _frames(self, items: Stream) -> AsyncIterator[bytes]:
        yield b"retry: 2000\n\n"
        pending: asyncio.Task[StreamItem] | None = None
        loop = asyncio.get_running_loop()
        # A stream ends after max_stream_seconds; EventSource reconnects with Last-Event-ID.
        deadline = loop.time() + self.streams.max_stream_seconds
        try:
            while (left := deadline - loop.time()) > 0:
                if pending is None:
                    pending = asyncio.ensure_future(anext(items))
                done, _ = await asyncio.wait({pending}, timeout=min(self.heartbeat, left))
                if not done:
                    if deadline > loop.time():
                        yield b": heartbeat\n\n"
                    continue
                item, pending = pending.result(), None
                yield frame(item)
        finally:
            if pending is not None:
                pending.cancel()
                with contextlib.suppress(asyncio.CancelledError, StopAsyncIteration):
                    await pending
            await items.aclose()

    def routes(self) -> list[Route]:
        return [Route("/events.stream", self.stream, methods=["GET"])]
