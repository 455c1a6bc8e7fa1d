"""``fleetwatch push`` against a real hub: delivery, spooling while it is down, a bad token."""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import json
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from serving import ServeProcess, run_cli

from fleetwatch.agent.connection import HubConnection, Unreachable
from fleetwatch.auth.admin import Actor, Admin
from fleetwatch.auth.secrets import PasswordHashing
from fleetwatch.store import SnapshotRecord, open_store

pytestmark = pytest.mark.e2e


def _db(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'fleetwatch.sqlite3'}"


def add_system(data_dir: Path, name: str) -> str:
    async def add() -> str:
        store = open_store(_db(data_dir))
        await store.open()
        try:
            return (
                await Admin(store, PasswordHashing()).add_system(Actor("t", "127.0.0.1"), name)
            )[1]
        finally:
            await store.close()

    return asyncio.run(add())


def snapshots(data_dir: Path, name: str) -> list[SnapshotRecord]:
    async def read() -> list[SnapshotRecord]:
        store = open_store(_db(data_dir))
        await store.open()
        try:
            system = await store.get_system(name)
            assert system is not None
            return await store.snapshots(system.id, newest_first=False)
        finally:
            await store.close()

    return asyncio.run(read())


def meminfo_total() -> int:
    text = Path("/proc/meminfo").read_text().split()
    return int(text[text.index("MemTotal:") + 1]) * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_push_once_delivers_this_machine(tmp_path: Path) -> None:
    data = tmp_path / "hub"
    with ServeProcess(data) as hub:
        token = add_system(data, "web1")
        result = run_cli("push", "--hub", hub.url, "--once", "--spool", str(tmp_path / "spool"),
                         env={"FLEETWATCH_TOKEN": token})  # fmt: skip
        assert result.returncode == 0, result.stderr
    [snap] = snapshots(data, "web1")
    assert snap.normalized["mem"]["total"] == meminfo_total()
    assert snap.document["hostname"] == socket.gethostname()
    assert snap.normalized["load"]["cpucore"] >= 1
    assert list((tmp_path / "spool").glob("*.json")) == []


def test_the_spool_keeps_documents_while_the_hub_is_down(tmp_path: Path) -> None:
    data, spool, port = tmp_path / "hub", tmp_path / "spool", free_port()
    url = f"http://127.0.0.1:{port}"
    with ServeProcess(data):
        token = add_system(data, "web2")  # registered; the hub then goes away
    env = {"FLEETWATCH_TOKEN": token}
    down = run_cli("push", "--hub", url, "--once", "--spool", str(spool), env=env)
    assert down.returncode == 2
    assert "kept in" in down.stderr.splitlines()[-1]
    assert len(list(spool.glob("*.json"))) == 1
    with ServeProcess(data, "--port", str(port)):  # the last --port wins
        up = run_cli("push", "--hub", url, "--once", "--spool", str(spool), env=env)
        assert up.returncode == 0, up.stderr
    assert len(snapshots(data, "web2")) == 2  # the spooled one, then the new one
    assert list(spool.glob("*.json")) == []


def test_a_refused_token_exits_with_one_clear_line(tmp_path: Path) -> None:
    with ServeProcess(tmp_path / "hub") as hub:
        result = run_cli("push", "--hub", hub.url, "--once", "--spool", str(tmp_path / "s"),
                         env={"FLEETWATCH_TOKEN": "fws_not-a-token"})  # fmt: skip
    assert result.returncode == 1
    assert "refused the token (401)" in result.stderr.strip().splitlines()[-1]


class CountingProxy:
    """A loopback TCP proxy in front of the hub: counts the connections the agent opens and
    keeps every byte it sends, to read the requests back."""

    def __init__(self, target: tuple[str, int]) -> None:
        self.target = target
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.connections = 0
        self.sent = bytearray()
        self.lock = threading.Lock()
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self.listener.accept()
            except OSError:
                return  # closed
            with self.lock:
                self.connections += 1
            upstream = socket.create_connection(self.target)
            ends = [2]  # the pipes still running: the last one out closes both sockets
            for args in ((client, upstream, True, ends), (upstream, client, False, ends)):
                threading.Thread(target=self._pipe, args=args, daemon=True).start()

    def _pipe(self, source: socket.socket, sink: socket.socket, record: bool,
              ends: list[int]) -> None:  # fmt: skip
        with contextlib.suppress(OSError):
            while data := source.recv(65536):
                if record:
                    with self.lock:
                        self.sent += data
                sink.sendall(data)
        with contextlib.suppress(OSError):
            sink.shutdown(socket.SHUT_WR)
        with self.lock:
            ends[0] -= 1
            last = ends[0] == 0
        if last:
            source.close()
            sink.close()

    def close(self) -> None:
        self.listener.close()


def test_push_keeps_one_connection_and_sends_gzip(tmp_path: Path) -> None:
    # HTTP/1.1 (--http1), whose requests this test reads off the wire; pushes closer together
    # than the header deadline. HTTP/2 across longer intervals: tests/test_keepalive_e2e.py.
    data = tmp_path / "hub"
    with ServeProcess(data) as hub:
        token = add_system(data, "web3")
        parts = urlsplit(hub.url)
        proxy = CountingProxy((parts.hostname or "127.0.0.1", parts.port or 80))
        agent = subprocess.Popen(
            [sys.executable, "-m", "fleetwatch", "push", "--hub", proxy.url, "--interval", "1",
             "--spool", str(tmp_path / "spool"), "--http1"],
            env={**os.environ, "FLEETWATCH_TOKEN": token}, stderr=subprocess.PIPE, text=True,
        )  # fmt: skip
        try:
            deadline = time.monotonic() + 30
            while time.monotonic() < deadline and proxy.sent.count(b"PUT ") < 4:
                assert agent.poll() is None, agent.communicate()[1]
                time.sleep(0.2)
        finally:
            agent.send_signal(signal.SIGTERM)
            _, log = agent.communicate(timeout=10)
            proxy.close()
        assert agent.returncode == 0, log
    requests = bytes(proxy.sent).split(b"PUT /api/external/submit_stats HTTP/1.1\r\n")[1:]
    assert len(requests) >= 4
    assert proxy.connections == 1  # every push on the one kept connection
    stored = snapshots(data, "web3")
    assert len(stored) >= len(requests) - 1  # the last may be cut by the stop
    for request in requests:
        head, _, body = request.partition(b"\r\n\r\n")
        fields = dict(line.split(b": ", 1) for line in head.split(b"\r\n"))
        assert fields[b"Content-Encoding"] == b"gzip"
        assert int(fields[b"Content-Length"]) == len(body)
        plain = gzip.decompress(body)
        assert len(body) < len(plain) * 0.7  # ~930 bytes of JSON go as ~540
        assert json.loads(plain)["hostname"] == socket.gethostname()


def test_push_over_https_checks_the_certificate(tmp_path: Path) -> None:
    data = tmp_path / "hub"
    with ServeProcess(data, "--self-signed") as hub:
        token = add_system(data, "web4")
        env = {"FLEETWATCH_TOKEN": token}
        base = ("push", "--hub", hub.url, "--once", "--spool", str(tmp_path / "spool"))
        trusted = run_cli(*base, "--cafile", str(data / "tls" / "cert.pem"), env=env)
        assert trusted.returncode == 0, trusted.stderr
        insecure = run_cli(*base, "--insecure", env=env)
        assert insecure.returncode == 0, insecure.stderr
        # Without either, the system's CAs do not know it: unreachable (the spool keeps it).
        unknown = HubConnection(hub.url, ssl.create_default_context(), timeout=5)
        with pytest.raises(Unreachable, match="CERTIFICATE_VERIFY_FAILED"):
            unknown.request("PUT", "/api/external/submit_stats", b"{}", {})
    assert len(snapshots(data, "web4")) == 2
