"""The HTTP servers a hub can run under, on a socket the hub has already bound.

Granian (the default) parses HTTP and moves bytes in its own Rust threads, so the Python
thread only runs the hub's code: on 2 cores it carries half again as many submissions as
uvicorn, whose HTTP work shares the one Python thread. Granian's embedded mode, the one that
runs inside our event loop beside the collector and the writers, is marked experimental by
its authors; ``server.http_engine = "uvicorn"`` is the fallback for anyone it fails.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any, Protocol

from fleetwatch.api.asgi import ASGIApp
from fleetwatch.api.client_limits import ConnectionLimits
from fleetwatch.granian_limits import ConnectionActivity, ConnectionReaper

__all__ = ["ENGINES", "Engine", "make_engine"]

# How long a stop waits for requests in flight before it drops them.
GRACEFUL_SECONDS = 5
BACKLOG = 2048  # as fleetwatch.server listens with


class Engine(Protocol):
    async def serve(self) -> None:
        """Serve until ``stop``."""

    def stop(self) -> None: ...


class _QuietExperimentalNotice(logging.Filter):
    # Granian says "Embedded server is experimental!" at every start; the README says it once.
    def filter(self, record: logging.LogRecord) -> bool:
        return "experimental" not in record.getMessage()


class GranianEngine:
    def __init__(
        self, app: ASGIApp, sock: socket.socket, certfile: str, keyfile: str,
        limits: ConnectionLimits,
    ) -> None:  # fmt: skip
        from granian._granian import SocketHolder  # noqa: PLC0415
        from granian.constants import HTTPModes, Interfaces, SSLProtocols  # noqa: PLC0415
        from granian.http import HTTP1Settings  # noqa: PLC0415
        from granian.log import LogLevels  # noqa: PLC0415
        from granian.server.embed import Server  # noqa: PLC0415

        class OnOurSocket(Server):
            def _init_shared_socket(self) -> None:
                # The socket the hub bound and is already listening on: binding errors are
                # the hub's one-line ones, and no client is refused before the log line. A
                # duplicate, as Granian may close what it is given.
                self._ssp = None
                self._shd = SocketHolder(os.dup(sock.fileno()), False, BACKLOG)  # type: ignore[call-arg,assignment]

        host, port = sock.getsockname()[:2]
        # Which connections are busy and since when the others are idle, for the reaper.
        activity = ConnectionActivity(app)
        # Granian's own log lines go to ours (warnings and errors only), not to its stdout.
        routed: dict[str, Any] = {
            "version": 1,
            "disable_existing_loggers": False,
            "handlers": {},
            "formatters": {},
            "loggers": {"_granian": {"propagate": True}, "granian.access": {"propagate": True}},
        }
        self.server = OnOurSocket(
            activity,
            address=host,
            port=port,
            interface=Interfaces.ASGINL,  # no lifespan: the hub starts and stops its own parts
            http=HTTPModes.auto,
            websockets=False,
            runtime_threads=1,
            backlog=BACKLOG,
            # Granian takes no new connection while this many are open (its semaphore), so
            # it is the hub's connection ceiling; the ASGI layer keeps a reserve inside it.
            backpressure=limits.max_connections,
            # A deadline on the whole head, from the connection (or the previous response):
            # trickling a header byte at a time does not extend it. HTTP/1.1 only, and
            # also its idle keep-alive limit; HTTP/2 connections and ones that never send a
            # byte are the reaper's (server.idle_timeout_seconds).
            http1_settings=HTTP1Settings(header_read_timeout=int(limits.header_timeout * 1000)),
            log_level=LogLevels.warning,
            log_dictconfig=routed,
            log_access=False,
            ssl_cert=Path(certfile) if certfile else None,
            ssl_key=Path(keyfile) if keyfile else None,
            # TLS 1.2 still: the agents on older NAS boxes and appliances speak no newer.
            ssl_protocol_min=SSLProtocols.tls12,
        )
        self.server.workers_kill_timeout = GRACEFUL_SECONDS
        logging.getLogger("_granian").addFilter(_QuietExperimentalNotice())
        # Granian has no cap per client address on connections still sending headers, and
        # no idle timeout on HTTP/2: the hub enforces both from outside it (see
        # fleetwatch.granian_limits).
        self.reaper = ConnectionReaper(port, limits, activity=activity, family=sock.family)

    async def serve(self) -> None:
        if not self.reaper.usable:
            await self.server.serve()
            return
        reaping = asyncio.get_running_loop().create_task(self.reaper.run(), name="reaper")
        try:
            await self.server.serve()
        finally:
            reaping.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reaping

    def stop(self) -> None:
        self.server.stop()  # type: ignore[no-untyped-call]


class UvicornEngine:
    def __init__(
        self, app: ASGIApp, sock: socket.socket, certfile: str, keyfile: str,
        limits: ConnectionLimits,
    ) -> None:  # fmt: skip
        import uvicorn  # noqa: PLC0415 - only the fallback needs it

        from fleetwatch.uvicorn_limits import limited_protocol  # noqa: PLC0415

        config = uvicorn.Config(
            app,
            loop="none",
            interface="asgi3",
            # httptools with a header deadline and a cap per address at accept time.
            http=limited_protocol(limits),
            lifespan="off",
            access_log=False,
            server_header=False,
            proxy_headers=False,
            log_config=None,
            ssl_certfile=certfile or None,
            ssl_keyfile=keyfile or None,
            timeout_graceful_shutdown=GRACEFUL_SECONDS,
        )

        class Server(uvicorn.Server):
            # The hub handles the signals itself (see fleetwatch.server), for both engines.
            @contextlib.contextmanager
            def capture_signals(self) -> Iterator[None]:
                yield

        self.server = Server(config)
        self.sock = sock

    async def serve(self) -> None:
        await self.server.serve(sockets=[self.sock])

    def stop(self) -> None:
        self.server.should_exit = True


ENGINES = ("granian", "uvicorn")


def make_engine(
    name: str,
    app: ASGIApp,
    sock: socket.socket,
    certfile: str,
    keyfile: str,
    limits: ConnectionLimits | None = None,
) -> Engine:
    """``ValueError`` naming the choices for an unknown engine."""
    limits = limits or ConnectionLimits()
    if name == "granian":
        return GranianEngine(app, sock, certfile, keyfile, limits)
    if name == "uvicorn":
        return UvicornEngine(app, sock, certfile, keyfile, limits)
    raise ValueError(f"server.http_engine must be one of {', '.join(ENGINES)}, not {name!r}")
