"""The uvicorn engine's connection limits, applied where it accepts a connection.

uvicorn has no deadline on a request's headers and no cap per client address; its HTTP
protocol object is ours to choose, so a subclass of its httptools protocol adds both: a
connection over its address' cap (or into the reserve, see ``client_limits.Admission``) is
answered 429/503 and closed as soon as it is made, before any byte of it is parsed, and a
connection that has not completed a request's headers ``header_timeout`` seconds after it was
made (or after its previous response) is closed. An absolute-form request target (``GET
http://other.example/ HTTP/1.1``) is refused 400.
"""

from __future__ import annotations

import asyncio
from http import HTTPStatus

import orjson
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from fleetwatch.api.client_limits import Admission, ConnectionLimits
from fleetwatch.api.errors import ApiError, BadRequest
from fleetwatch.api.shapes import glances_error

__all__ = ["limited_protocol"]

ABSOLUTE_FORM = BadRequest("Bad request: the request target must be a path, not a URL")


def refusal_bytes(exc: ApiError) -> bytes:
    """A whole HTTP/1.1 response, written before the request is read (Glances' shape)."""
    status, body, headers = glances_error(exc)
    raw = orjson.dumps(body)
    head = [f"HTTP/1.1 {status} {HTTPStatus(status).phrase}", "content-type: application/json",
            f"content-length: {len(raw)}", "connection: close"]  # fmt: skip
    head += [f"{k.decode()}: {v.decode()}" for k, v in headers]
    return ("\r\n".join(head) + "\r\n\r\n").encode() + raw


def limited_protocol(limits: ConnectionLimits) -> type[asyncio.Protocol]:
    """An httptools protocol class sharing one ``Admission`` across its connections."""
    admission = Admission(limits)

    class LimitedProtocol(HttpToolsProtocol):
        _address: str | None = None  # set once admitted: connection_lost releases it
        _header_timer: asyncio.TimerHandle | None = None

        def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
            peer = transport.get_extra_info("peername")
            address = str(peer[0]) if peer else ""
            refused = admission.admit(address)
            if refused is not None:
                transport.write(refusal_bytes(refused))
                transport.close()
                return
            self._address = address
            super().connection_made(transport)
            self._arm_header_timer()

        def connection_lost(self, exc: Exception | None) -> None:
            if self._address is None:
                return  # refused: the parent never saw this connection
            admission.release(self._address)
            self._address = None
            self._disarm_header_timer()
            super().connection_lost(exc)

        def on_headers_complete(self) -> None:
            self._disarm_header_timer()
            if not self.url.startswith(b"/") and self.url != b"*":
                # An absolute-form target names a host that uvicorn would drop unseen while
                # the hub answered by the Host header; the hub is no proxy, so it is refused.
                self.transport.write(refusal_bytes(ABSOLUTE_FORM))
                self.transport.close()
                return
            super().on_headers_complete()

        def on_response_complete(self) -> None:
            super().on_response_complete()
            if not self.transport.is_closing():
                self._arm_header_timer()

        def _arm_header_timer(self) -> None:
            self._disarm_header_timer()
            self._header_timer = self.loop.call_later(limits.header_timeout, self._headers_late)

        def _disarm_header_timer(self) -> None:
            if self._header_timer is not None:
                self._header_timer.cancel()
                self._header_timer = None

        def _headers_late(self) -> None:
            self._header_timer = None
            if self.cycle is None or self.cycle.response_complete:
                self.transport.close()

    return LimitedProtocol
