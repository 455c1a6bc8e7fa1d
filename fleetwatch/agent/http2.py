"""HTTP/2 on the agent's socket: the ``h2`` package's state machine, our socket and loop.

Why HTTP/2 at all: Granian closes an HTTP/1.1 connection that waits longer than the hub's
header deadline (``server.header_timeout_seconds``, 10 s) for its next request, which is what
keeps slowloris clients out, so an agent pushing once a minute found its HTTP/1.1 connection
closed every time. An HTTP/2 connection between requests is the hub's to keep until its own
``server.idle_timeout_seconds`` (see ``fleetwatch.granian_limits``), and one stays open across
pushes a minute apart. Over ``http://`` the agent speaks it with prior knowledge (h2c); over
``https://`` when the hub picks it by ALPN.

``h2`` is sans-I/O (no threads, no event loop): the agent writes what it says to the socket
and feeds it what the socket reads, one request at a time. It costs the agent 1.1 MiB
resident (19.9 MiB against 18.8 with ``--http1``), where httpx would add ~18 MiB.
"""

from __future__ import annotations

import socket
import sys

import h2.config
import h2.connection
import h2.events
import h2.exceptions
import h2.settings

from fleetwatch.agent.http1 import MAX_ANSWER

__all__ = ["H2Wire", "NotHTTP2"]

# Headers that HTTP/2 carries otherwise (pseudo-headers) or forbids (connection-specific).
NOT_FORWARDED = frozenset({"host", "connection", "keep-alive", "transfer-encoding", "upgrade",
                           "content-length"})  # fmt: skip
READ_SIZE = 65536


class NotHTTP2(ConnectionError):
    """The hub (or a proxy before it) answered the HTTP/2 preface with something else."""


class H2Wire:
    """Requests one after another on one HTTP/2 connection (one stream at a time)."""

    def __init__(self, sock: socket.socket, authority: str, scheme: str) -> None:
        self.sock = sock
        self.authority = authority
        self.scheme = scheme
        self.spoken = False  # an HTTP/2 frame came from the hub
        self.ended = False  # GOAWAY, or the hub closed the socket: no new request goes here
        self.closed = False  # the hub closed the socket
        self.last_stream: int | None = None  # a GOAWAY's: later streams were not processed
        self.h2 = h2.connection.H2Connection(
            h2.config.H2Configuration(client_side=True, header_encoding=None)
        )
        self.h2.local_settings = h2.settings.Settings(client=True, initial_values={
            h2.settings.SettingCodes.ENABLE_PUSH: 0,
            h2.settings.SettingCodes.MAX_HEADER_LIST_SIZE: 16384,
        })  # fmt: skip
        self.h2.initiate_connection()  # the preface and our settings, sent with the request

    def alive(self) -> bool:
        """Whether the connection is still usable: reads what the hub sent between requests
        (settings, window updates, a ping to answer, or a GOAWAY) without waiting."""
        timeout = self.sock.gettimeout()
        try:
            # Read until it would wait (not select(): TLS may hold no application data).
            self.sock.settimeout(0)
            while not self.ended:
                self._receive()
        except OSError as exc:
            if not _would_block(exc):
                return False
        except (ValueError, h2.exceptions.H2Error):
            return False
        finally:
            self.sock.settimeout(timeout)
        try:
            self._flush()
        except OSError:
            return False
        return not self.ended

    def exchange(self, method: str, target: str, body: bytes,
                 headers: dict[str, str]) -> tuple[int, bytes, bool]:  # fmt: skip
        """(status, body, whether the connection stays open); OSError or ValueError."""
        try:
            return self._exchange(method, target, body, headers)
        except h2.exceptions.H2Error as exc:
            self.ended = True
            raise ValueError(f"HTTP/2: {exc}") from exc

    def close(self) -> None:
        self.sock.close()

    def _exchange(self, method: str, target: str, body: bytes,
                  headers: dict[str, str]) -> tuple[int, bytes, bool]:  # fmt: skip
        stream = self.h2.get_next_available_stream_id()
        fields = [(":method", method), (":scheme", self.scheme), (":authority", self.authority),
                  (":path", target), ("content-length", str(len(body)))]  # fmt: skip
        fields += [(k.lower(), v) for k, v in headers.items() if k.lower() not in NOT_FORWARDED]
        self.h2.send_headers(stream, fields, end_stream=not body)
        sent = 0
        while sent < len(body):
            room = min(self.h2.local_flow_control_window(stream), self.h2.max_outbound_frame_size)
            if room <= 0:  # the hub's window is full: wait for its WINDOW_UPDATE
                self._flush()
                self._receive_for(stream)
                continue
            chunk = body[sent : sent + room]
            sent += len(chunk)
            self.h2.send_data(stream, chunk, end_stream=sent == len(body))
        self._flush()
        status = 0
        answer = bytearray()
        while True:
            for event in self._receive_for(stream):
                if isinstance(event, h2.events.ResponseReceived):
                    status = int(dict(event.headers).get(b":status", b"0"))
                elif isinstance(event, h2.events.DataReceived) and event.data is not None:
                    answer += event.data
                    if len(answer) > MAX_ANSWER:
                        raise ValueError(f"the hub's answer is larger than {MAX_ANSWER} bytes")
                    # Give the window back: a connection kept for months would run dry.
                    self.h2.acknowledge_received_data(event.flow_controlled_length or 0, stream)
                elif isinstance(event, h2.events.StreamEnded):
                    self._flush()
                    return status, bytes(answer), not self.ended
            self._flush()

    def _receive_for(self, stream: int) -> list[h2.events.Event]:
        """The events of one read that concern ``stream``; errors for its end or the hub's."""
        mine: list[h2.events.Event] = []
        for event in self._receive():
            if isinstance(event, h2.events.StreamReset) and event.stream_id == stream:
                raise ConnectionResetError(f"the hub reset the request ({event.error_code!r})")
            if getattr(event, "stream_id", stream) == stream:
                mine.append(event)
        if any(isinstance(e, h2.events.StreamEnded) for e in mine):
            return mine
        if self.closed:
            raise ConnectionResetError("the hub closed the connection mid-answer")
        if self.last_stream is not None and stream > self.last_stream:
            raise ConnectionResetError("the hub ended the connection before the request")
        return mine

    def _receive(self) -> list[h2.events.Event]:
        data = self.sock.recv(READ_SIZE)
        if not data:
            self.ended = self.closed = True
            if not self.spoken:
                raise NotHTTP2("the hub closed the connection at the HTTP/2 preface")
            return []
        if not self.spoken and data.startswith(b"HTTP/"):
            raise NotHTTP2("the hub answered the HTTP/2 preface in HTTP/1")
        self.spoken = True
        events = self.h2.receive_data(data)
        for event in events:
            if isinstance(event, h2.events.ConnectionTerminated):
                self.ended = True  # GOAWAY: streams up to its last one still finish
                self.last_stream = event.last_stream_id or 0
        return events

    def _flush(self) -> None:
        if data := self.h2.data_to_send():
            self.sock.sendall(data)


def _would_block(exc: OSError) -> bool:
    if isinstance(exc, BlockingIOError):
        return True
    ssl = sys.modules.get("ssl")  # loaded only for an https:// hub
    return ssl is not None and isinstance(exc, ssl.SSLWantReadError)
