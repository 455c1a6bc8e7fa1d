"""One kept-alive connection from the agent to its hub, on a plain socket.

The agent sends one small request a minute for months, on one connection kept across
pushes: HTTP/2 where the hub speaks it (``fleetwatch.agent.http2``: the hub keeps an idle
HTTP/2 connection for ``server.idle_timeout_seconds``, 75 s, but an idle HTTP/1.1 one only
for its 10 s header deadline), HTTP/1.1 otherwise (``fleetwatch.agent.http1``). Over
``https://`` ALPN settles which; over ``http://`` the agent starts with the HTTP/2 preface
(prior knowledge) and, when the hub or a proxy before it answers that in HTTP/1 or closes
at it, sends the request again over HTTP/1.1 and stays with HTTP/1.1 for good.

The connection is opened on first use and kept. Before reusing it the agent looks whether
the hub has closed it (or said GOAWAY) and opens a new one instead of failing. A request
that fails on a reused connection is tried once more on a fresh one: the hub may close it
between that look and the request. Any other failure closes the connection and is the
caller's to retry, with its backoff. ``ssl`` is loaded only for an ``https://`` hub.
"""

from __future__ import annotations

import logging
import socket
from typing import TYPE_CHECKING, Protocol
from urllib.parse import urlsplit

from fleetwatch.agent.http1 import H1Wire

if TYPE_CHECKING:
    import ssl

__all__ = ["HubConnection", "Unreachable"]

log = logging.getLogger(__name__)


class Unreachable(OSError):
    """No usable answer from the hub: refused, reset, timed out, or not HTTP."""


class Wire(Protocol):
    def alive(self) -> bool: ...

    def exchange(self, method: str, target: str, body: bytes,
                 headers: dict[str, str]) -> tuple[int, bytes, bool]: ...  # fmt: skip

    def close(self) -> None: ...


class HubConnection:
    def __init__(self, hub: str, tls: ssl.SSLContext | None = None, timeout: float = 10.0,
                 http1: bool = False) -> None:  # fmt: skip
        parts = urlsplit(hub)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError(f"the hub's URL must be http:// or https://host[:port], not {hub!r}")
        if parts.scheme == "https" and tls is None:
            raise ValueError("an https:// hub needs a TLS context")
        self.tls = tls if parts.scheme == "https" else None
        self.host = parts.hostname
        self.port = parts.port or (443 if self.tls else 80)
        self.prefix = parts.path.rstrip("/")
        default = 443 if self.tls else 80
        name = f"[{self.host}]" if ":" in self.host else self.host
        self.authority = name if self.port == default else f"{name}:{self.port}"
        self.timeout = timeout
        # HTTP/1.1 only: asked for (--http1), or the hub answered HTTP/2 in HTTP/1.
        self.http1 = http1
        if self.tls is not None and not http1:
            self.tls.set_alpn_protocols(["h2", "http/1.1"])
        self.opened = 0  # connections opened so far
        self.version = ""  # of the connection open now: "HTTP/2" or "HTTP/1.1"
        self._wire: Wire | None = None

    def request(self, method: str, path: str, body: bytes,
                headers: dict[str, str]) -> tuple[int, bytes]:  # fmt: skip
        """(status, body) of one exchange on the kept connection; ``Unreachable`` without."""
        if self._wire is not None and not self._wire.alive():
            self.close()
        if self._wire is not None:
            try:
                return self._exchange(method, path, body, headers)
            except Unreachable:
                pass  # closed under us: one more try on a fresh connection
        try:
            return self._exchange(method, path, body, headers)
        except _NoHTTP2:
            pass
        # The hub (or a proxy) does not speak HTTP/2 in the clear: HTTP/1.1 from now on,
        # once it has answered that.
        self.http1 = True
        try:
            answer = self._exchange(method, path, body, headers)
        except Unreachable:
            self.http1 = False  # not settled: HTTP/2 again next time
            raise
        log.info("%s does not speak HTTP/2 without TLS: HTTP/1.1 from now on (one connection "
                 "per push where the hub closes idle ones)", self.authority)  # fmt: skip
        return answer

    def close(self) -> None:
        if self._wire is not None:
            self._wire.close()
            self._wire = None
            self.version = ""

    def _open(self) -> Wire:
        self.opened += 1
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        try:
            sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.tls is not None:
                sock = self.tls.wrap_socket(sock, server_hostname=self.host)
                http2 = sock.selected_alpn_protocol() == "h2"
            else:
                http2 = not self.http1
        except BaseException:
            sock.close()
            raise
        if http2:
            from fleetwatch.agent.http2 import H2Wire  # noqa: PLC0415 - HTTP/1.1-only agents skip h2

            wire: Wire = H2Wire(sock, self.authority, "https" if self.tls else "http")
            self.version = "HTTP/2"
        else:
            wire = H1Wire(sock, self.authority)
            self.version = "HTTP/1.1"
        self._wire = wire
        return wire

    def _exchange(self, method: str, path: str, body: bytes,
                  headers: dict[str, str]) -> tuple[int, bytes]:  # fmt: skip
        fresh = self._wire is None
        try:
            wire = self._wire or self._open()
            status, answer, keep = wire.exchange(method, self.prefix + path, body, headers)
        except (OSError, ValueError) as exc:
            self.close()
            if fresh and self.tls is None and not self.http1 and _not_http2(exc):
                raise _NoHTTP2(str(exc)) from exc
            raise Unreachable(str(exc) or type(exc).__name__) from exc
        if not keep:
            self.close()
        return status, answer


class _NoHTTP2(Unreachable):
    """A fresh cleartext connection got no HTTP/2 from the hub: HTTP/1.1 is tried next."""


def _not_http2(exc: BaseException) -> bool:
    from fleetwatch.agent.http2 import NotHTTP2  # noqa: PLC0415

    return isinstance(exc, NotHTTP2)
