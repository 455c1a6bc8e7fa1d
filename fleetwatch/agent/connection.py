"""One kept-alive HTTP/1.1 connection from the agent to its hub, on a plain socket.

The agent sends one small request a minute for months. ``http.client`` would import ``ssl``
and the ``email`` package even for an ``http://`` hub, and httpx was two thirds of the
agent's memory; the one exchange the agent needs (a request with a body; an answer sized by
``Content-Length``, chunked, or ended by the close) is small enough to speak here, and
``ssl`` is loaded only for an ``https://`` hub.

The connection is opened on first use and kept. The hub closes connections that stay idle
past its header deadline, so before reusing one the agent looks whether the hub has closed
it (a readable socket between requests is its FIN) and opens a new one instead of failing.
A request that fails on a reused connection is tried once more on a fresh one: the hub may
close it between that look and the request. Any other failure closes the connection and is
the caller's to retry, with its backoff.
"""

from __future__ import annotations

import select
import socket
from typing import TYPE_CHECKING, BinaryIO
from urllib.parse import urlsplit

if TYPE_CHECKING:
    import ssl

__all__ = ["HubConnection", "Unreachable"]

# Bounds on what the hub may answer: the agent reads one short JSON object per request.
MAX_LINE = 8192
MAX_HEADERS = 100
MAX_ANSWER = 1 << 20


class Unreachable(OSError):
    """No usable answer from the hub: refused, reset, timed out, or not HTTP."""


class HubConnection:
    def __init__(self, hub: str, tls: ssl.SSLContext | None = None, timeout: float = 10.0) -> None:
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
        self.opened = 0  # connections opened so far
        self._sock: socket.socket | None = None
        self._reader: BinaryIO | None = None

    def request(self, method: str, path: str, body: bytes,
                headers: dict[str, str]) -> tuple[int, bytes]:  # fmt: skip
        """(status, body) of one exchange on the kept connection; ``Unreachable`` without."""
        if self._sock is not None and not self._idle_and_open(self._sock):
            self.close()
        if self._sock is not None:
            try:
                return self._exchange(method, path, body, headers)
            except Unreachable:
                pass  # closed under us: one more try on a fresh connection
        return self._exchange(method, path, body, headers)

    def close(self) -> None:
        if self._reader is not None:
            self._reader.close()
            self._reader = None
        if self._sock is not None:
            self._sock.close()
            self._sock = None

    def _open(self) -> tuple[socket.socket, BinaryIO]:
        self.opened += 1
        sock = socket.create_connection((self.host, self.port), timeout=self.timeout)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        if self.tls is not None:
            sock = self.tls.wrap_socket(sock, server_hostname=self.host)
        self._sock, self._reader = sock, sock.makefile("rb")
        return self._sock, self._reader

    @staticmethod
    def _idle_and_open(sock: socket.socket) -> bool:
        try:
            readable, _, _ = select.select([sock], [], [], 0)
        except (OSError, ValueError):
            return False
        # Nothing is owed to us between requests: readable means closed (or garbage).
        return not readable

    def _exchange(self, method: str, path: str, body: bytes,
                  headers: dict[str, str]) -> tuple[int, bytes]:  # fmt: skip
        try:
            if self._sock is None or self._reader is None:
                sock, reader = self._open()
            else:
                sock, reader = self._sock, self._reader
            fields = {"Host": self.authority, "Content-Length": str(len(body)), **headers}
            head = [f"{method} {self.prefix}{path} HTTP/1.1",
                    *(f"{k}: {v}" for k, v in fields.items())]  # fmt: skip
            sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
            status, answer, keep = _read_answer(reader)
        except (OSError, ValueError) as exc:
            self.close()
            raise Unreachable(str(exc) or type(exc).__name__) from exc
        if not keep:
            self.close()
        return status, answer


def _line(reader: BinaryIO) -> bytes:
    line = reader.readline(MAX_LINE + 1)
    if not line:
        raise ConnectionResetError("the hub closed the connection")
    if len(line) > MAX_LINE:
        raise ValueError("the hub's answer has an overlong line")
    return line.rstrip(b"\r\n")


def _read_answer(reader: BinaryIO) -> tuple[int, bytes, bool]:
    """(status, body, whether the connection stays open) of one answer."""
    version, _, rest = _line(reader).partition(b" ")
    if not version.startswith(b"HTTP/1."):
        raise ValueError("the hub did not answer HTTP/1.x")
    status = int(rest[:3])
    fields: dict[bytes, bytes] = {}
    for _ in range(MAX_HEADERS + 1):
        line = _line(reader)
        if not line:
            break
        name, _, value = line.partition(b":")
        fields[name.strip().lower()] = value.strip()
    else:
        raise ValueError("the hub's answer has too many header fields")
    keep = version == b"HTTP/1.1" and fields.get(b"connection", b"").lower() != b"close"
    if status in (204, 304) or 100 <= status < 200:
        return status, b"", keep
    if b"chunked" in fields.get(b"transfer-encoding", b"").lower():
        return status, _chunked(reader), keep
    if b"content-length" in fields:
        size = int(fields[b"content-length"])
        if not 0 <= size <= MAX_ANSWER:
            raise ValueError(f"the hub's answer is larger than {MAX_ANSWER} bytes")
        data = reader.read(size)
        if len(data) != size:
            raise ConnectionResetError("the hub closed the connection mid-answer")
        return status, data, keep
    return status, reader.read(MAX_ANSWER), False  # delimited by the close


def _chunked(reader: BinaryIO) -> bytes:
    parts: list[bytes] = []
    total = 0
    while True:
        size = int(_line(reader).split(b";")[0], 16)
        if size == 0:
            while _line(reader):  # trailer fields, then the blank line
                pass
            return b"".join(parts)
        total += size
        if total > MAX_ANSWER:
            raise ValueError(f"the hub's answer is larger than {MAX_ANSWER} bytes")
        data = reader.read(size)
        if len(data) != size:
            raise ConnectionResetError("the hub closed the connection mid-answer")
        parts.append(data)
        _line(reader)
