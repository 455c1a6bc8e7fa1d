"""The push agent's parts on this machine: its document, its spool and its backoff."""

from __future__ import annotations

import contextlib
import socket
import threading
import time
from pathlib import Path

import h2.config
import h2.connection
import h2.events
import orjson
import pytest

from fleetwatch.agent.connection import HubConnection, Unreachable
from fleetwatch.agent.document import DocumentBuilder
from fleetwatch.agent.sender import Backoff
from fleetwatch.agent.spool import Spool
from fleetwatch.ingest.normalise import normalise
from fleetwatch.ingest.submit_stats import validate


def test_the_document_is_a_valid_submit_stats_body_of_this_machine() -> None:
    builder = DocumentBuilder()
    builder.build()
    time.sleep(0.2)
    doc = validate(orjson.loads(orjson.dumps(builder.build())))
    assert doc["hostname"]
    assert len(doc["cpu"]) >= 1
    assert "lo" not in [n["name"] for n in doc["network"]]  # hidden as the hub hides it
    stats = normalise(doc)
    meminfo = Path("/proc/meminfo").read_text().split()
    assert stats["mem"]["total"] == int(meminfo[meminfo.index("MemTotal:") + 1]) * 1024
    assert "/" in [f["mnt_point"] for f in stats["fs"]]
    assert stats["load"]["cpucore"] >= 1


def test_spool_keeps_order_and_is_bounded(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", max_items=3)
    for n in range(5):
        spool.put(f'{{"n": {n}}}'.encode())
    assert len(spool) == 3
    seen = []
    while (item := spool.oldest()) is not None:
        seen.append(orjson.loads(item[1])["n"])
        spool.remove(item[0])
    assert seen == [2, 3, 4]  # the two oldest were dropped
    assert not list((tmp_path / "spool").glob("*.tmp"))


def test_spool_survives_a_new_process(tmp_path: Path) -> None:
    Spool(tmp_path).put(b"{}")
    again = Spool(tmp_path)
    again.put(b"[]")
    assert len(again) == 2


@pytest.mark.parametrize("failures", [1, 5, 20])
def test_backoff_is_capped_and_jittered(failures: int) -> None:
    backoff = Backoff(base=1.0, cap=30.0)
    delays = [backoff.next_delay() for _ in range(failures)]
    assert all(0 <= d <= 30.0 for d in delays)
    backoff.reset()
    assert backoff.failures == 0


class OneShotServer:
    """A loopback HTTP server that answers each connection's first request, then closes it
    (as the hub does with a connection left idle): counts connections and requests."""

    def __init__(self, answer: bytes = b"", path: str = "/prefix/") -> None:
        self.answer = answer
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}{path}"
        self.connections = 0
        self.requests: list[bytes] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                conn, _ = self.listener.accept()
                self.connections += 1
                with conn:
                    self._answer_one(conn)

    def _answer_one(self, conn: socket.socket) -> None:
        head = b""
        while b"\r\n\r\n" not in head:
            head += conn.recv(65536)
        self.requests.append(head)
        conn.sendall(self.answer)

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)  # wakes the accept
        self.listener.close()


CHUNKED = b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{"a"\r\n3\r\n:1}\r\n0\r\n\r\n'


def test_a_connection_the_hub_closed_is_opened_again_without_a_failure() -> None:
    server = OneShotServer(CHUNKED)
    connection = HubConnection(server.url, timeout=5, http1=True)
    assert connection.request("PUT", "/x", b"{}", {}) == (200, b'{"a":1}')
    deadline = time.monotonic() + 5
    while connection._wire is not None and connection._wire.alive():
        assert time.monotonic() < deadline  # the server's close reaches us
        time.sleep(0.01)
    assert connection.request("PUT", "/x", b"{}", {}) == (200, b'{"a":1}')
    assert (connection.opened, server.connections) == (2, 2)
    assert server.requests[0].startswith(b"PUT /prefix/x HTTP/1.1\r\nHost: 127.0.0.1:")
    server.close()
    with pytest.raises(Unreachable):  # nobody listens: the caller's backoff takes over
        connection.request("PUT", "/x", b"{}", {})
    connection.close()


def test_the_agent_refuses_a_hub_url_it_cannot_use() -> None:
    with pytest.raises(ValueError, match="http:// or https://"):
        HubConnection("ftp://hub")
    with pytest.raises(ValueError, match="TLS context"):
        HubConnection("https://hub")


def test_a_hub_that_answers_http2_in_http1_gets_http1_from_then_on() -> None:
    # As uvicorn or an HTTP/1-only proxy does: "400 Invalid HTTP request" to the preface.
    server = OneShotServer(CHUNKED)
    connection = HubConnection(server.url, timeout=5)
    assert connection.request("PUT", "/x", b"{}", {}) == (200, b'{"a":1}')
    assert connection.http1
    assert server.requests[0].startswith(b"PRI * HTTP/2.0\r\n\r\n")
    assert server.requests[1].startswith(b"PUT /prefix/x HTTP/1.1\r\n")
    assert connection.request("PUT", "/x", b"{}", {}) == (200, b'{"a":1}')
    assert (connection.opened, server.connections) == (3, 3)  # no HTTP/2 tried again
    assert server.requests[2].startswith(b"PUT /prefix/x HTTP/1.1\r\n")
    connection.close()
    server.close()


def test_a_hub_down_at_the_first_try_is_not_taken_for_http1() -> None:
    with socket.create_server(("127.0.0.1", 0)) as listener:
        port = listener.getsockname()[1]
    connection = HubConnection(f"http://127.0.0.1:{port}", timeout=5)
    with pytest.raises(Unreachable):
        connection.request("PUT", "/x", b"{}", {})
    assert not connection.http1


class H2OneShotServer(OneShotServer):
    """A loopback HTTP/2 server (the h2 package, server side) that answers each connection's
    first request, then says GOAWAY and closes it, as a hub does when it stops or sheds."""

    def __init__(self) -> None:
        super().__init__(path="")

    def _answer_one(self, conn: socket.socket) -> None:
        server = h2.connection.H2Connection(h2.config.H2Configuration(client_side=False))
        server.initiate_connection()
        conn.sendall(server.data_to_send())
        while data := conn.recv(65536):
            for event in server.receive_data(data):
                if isinstance(event, h2.events.StreamEnded):
                    server.send_headers(event.stream_id, [(":status", "200")])
                    server.send_data(event.stream_id, b'{"a":1}', end_stream=True)
                    server.close_connection(last_stream_id=event.stream_id)
                    conn.sendall(server.data_to_send())
                    return
            conn.sendall(server.data_to_send())


def test_after_a_goaway_the_next_request_goes_on_a_fresh_http2_connection() -> None:
    server = H2OneShotServer()
    connection = HubConnection(server.url, timeout=5)
    for _ in range(3):
        assert connection.request("PUT", "/x", b"{}", {}) == (200, b'{"a":1}')
        assert connection.version in ("HTTP/2", "")  # closed after the GOAWAY, or about to
    assert (connection.opened, server.connections) == (3, 3)
    assert not connection.http1
    connection.close()
    server.close()
