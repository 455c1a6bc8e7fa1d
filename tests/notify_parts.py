"""Shared parts of the notification tests: a clock the test moves, tags given directly,
and a dispatcher over a real store."""

from __future__ import annotations

import hashlib
import hmac
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from fleetwatch.engine.checks import EVENTS_SYSTEM
from fleetwatch.engine.notify.dispatcher import Dispatcher
from fleetwatch.engine.notify.events import NotifyEvent
from fleetwatch.engine.notify.messages import Messages
from fleetwatch.engine.notify.rules import ObjectTags
from fleetwatch.store import EventRecord, Store


@dataclass
class Clock:
    now: float = 1_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class GivenTags:
    """Object tags given by the test, by object name (``web1`` or ``web1 / Backup``)."""

    tags: dict[str, frozenset[str]] = field(default_factory=dict)

    async def tags_of(self, event: NotifyEvent) -> frozenset[str]:
        return self.tags.get(event.object, frozenset())


def dispatcher(store: Store, clock: Clock, tags: ObjectTags | None = None) -> Dispatcher:
    return Dispatcher(
        store,
        Messages("https://hub.example"),
        checks_system=EVENTS_SYSTEM,
        tags=tags,
        clock=clock,
    )


def threshold_event(system_id: int, begin: float, state: str = "WARNING") -> EventRecord:
    return EventRecord(
        id=None, system_id=system_id, begin=begin, end=-1, state=state, type="CPU_TOTAL",
        value_max=91.5, value_avg=91.5, value_min=91.5, value_sum=91.5, count=1,
        desc="CPU total",
    )  # fmt: skip


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes


class Receiver:
    """A real HTTP server on loopback that records what it is sent; it answers 500 to the
    first ``fail`` requests, then 200."""

    def __init__(self, fail: int = 0) -> None:
        self.fail = fail
        self.received: list[Received] = []
        self._lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                with receiver._lock:
                    receiver.received.append(Received(self.path, dict(self.headers), body))
                    failing = receiver.fail > 0
                    receiver.fail -= 1 if failing else 0
                status = 500 if failing else 200
                answer = b'{"ok": false}' if failing else b'{"ok": true}'
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            do_PUT = do_POST

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = self.server.server_address[1]
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Receiver:
        self.thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.server.shutdown()
        self.server.server_close()


def verify_signature(secret: str, headers: dict[str, str], body: bytes) -> bool:
    """The receiver-side check the README documents."""
    timestamp = headers["X-Fleetwatch-Timestamp"]
    expected = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    given = headers["X-Fleetwatch-Signature"].removeprefix("v1=")
    fresh = abs(time.time() - int(timestamp)) < 300
    return fresh and hmac.compare_digest(expected.hexdigest(), given)
