"""HTTP/1.1 on the agent's socket: one request with a body, one answer read back.

The one exchange the agent needs (an answer sized by ``Content-Length``, chunked, or ended by
the close) is small enough to speak here: ``http.client`` would import ``ssl`` and the
``email`` package even for an ``http://`` hub.
"""

from __future__ import annotations

import select
import socket
from typing import BinaryIO

__all__ = ["MAX_ANSWER", "H1Wire"]

# Bounds on what the hub may answer: the agent reads one short JSON object per request.
MAX_LINE = 8192
MAX_HEADERS = 100
MAX_ANSWER = 1 << 20


class H1Wire:
    """Requests one after another on one HTTP/1.1 connection."""

    def __init__(self, sock: socket.socket, authority: str) -> None:
        self.sock = sock
        self.reader: BinaryIO = sock.makefile("rb")
        self.authority = authority

    def alive(self) -> bool:
        """Whether the connection is still open: nothing is owed to us between requests, so
        a readable socket is the hub's close (or garbage)."""
        try:
            readable, _, _ = select.select([self.sock], [], [], 0)
        except (OSError, ValueError):
            return False
        return not readable

    def exchange(self, method: str, target: str, body: bytes,
                 headers: dict[str, str]) -> tuple[int, bytes, bool]:  # fmt: skip
        """(status, body, whether the connection stays open); OSError or ValueError."""
        fields = {"Host": self.authority, "Content-Length": str(len(body)), **headers}
        head = [f"{method} {target} HTTP/1.1", *(f"{k}: {v}" for k, v in fields.items())]
        self.sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        return _read_answer(self.reader)

    def close(self) -> None:
        self.reader.close()
        self.sock.close()


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
