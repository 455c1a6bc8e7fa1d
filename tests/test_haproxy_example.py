"""The documented reverse-proxy example, run: ``examples/haproxy-two-hubs.cfg`` in Debian's
haproxy in front of two real ``fleetwatch serve`` processes on one PostgreSQL database, each
trusting the proxy (``server.trusted_proxies``).

Clients come from their own loopback addresses (127.0.0.5, 127.0.0.6), so the hubs can tell
them apart only by the X-Forwarded-For the proxy adds: one spraying passwords is held back and
the other still signs in; the proxy's public Host is answered; nothing is granted anonymously.
"""

from __future__ import annotations

import re
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from serving import ServeProcess, run_cli

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

HAPROXY = shutil.which("haproxy")
EXAMPLE = Path(__file__).resolve().parents[1] / "examples" / "haproxy-two-hubs.cfg"
USER, PASSWORD = "ops", "ops password"
MAX_FAILURES = 2
ENV = {"FLEETWATCH_SERVER_TRUSTED_PROXIES": "127.0.0.1",
       "FLEETWATCH_AUTH_MAX_FAILURES": str(MAX_FAILURES)}  # fmt: skip


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def from_address(address: str, base: str) -> httpx.Client:
    transport = httpx.HTTPTransport(local_address=address)
    return httpx.Client(transport=transport, base_url=base, timeout=10)


@pytest.fixture
def proxied(tmp_path: Path, postgres_url: str) -> Iterator[tuple[str, list[str]]]:
    """(the proxy's URL, the hubs' URLs)."""
    if HAPROXY is None:
        pytest.skip("haproxy is not installed (make test installs Debian's package)")
    done = run_cli("user", "add", USER, "--group", "admin", "--password-stdin", "--data-dir",
                   str(tmp_path), "--database", postgres_url, stdin=PASSWORD + "\n",
                   module="fleetwatch.cli_admin", timeout=60)  # fmt: skip
    assert done.returncode == 0, done.stderr
    hubs = [ServeProcess(tmp_path / f"hub{i}", "--database", postgres_url, env=ENV)
            for i in range(2)]  # fmt: skip
    proxy: subprocess.Popen[bytes] | None = None
    try:
        urls = [hub.start(timeout=30) for hub in hubs]
        front = free_port()
        config = EXAMPLE.read_text()
        config = config.replace("bind 127.0.0.1:8080", f"bind 127.0.0.1:{front}")
        for port, url in zip((61208, 61209), urls, strict=True):
            config = config.replace(f"127.0.0.1:{port}", url.removeprefix("http://"))
        config = re.sub(r"^\s*log /dev/log.*$", "", config, flags=re.M)  # no syslog here
        (tmp_path / "haproxy.cfg").write_text(config)
        log = tmp_path / "haproxy.log"
        with log.open("w") as out:
            proxy = subprocess.Popen([HAPROXY, "-db", "-f", str(tmp_path / "haproxy.cfg")],
                                     stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
        base = f"http://127.0.0.1:{front}"
        deadline = time.monotonic() + 15
        while True:  # until both hubs passed the proxy's health check
            assert proxy.poll() is None, log.read_text()
            try:
                if httpx.get(f"{base}/api/4/status", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert time.monotonic() < deadline, "haproxy did not come up"
            time.sleep(0.2)
        time.sleep(2.5)  # the second hub's "rise 2" at 1 s checks
        yield base, urls
    finally:
        if proxy is not None:
            proxy.terminate()
            proxy.wait(10)
        for hub in hubs:
            hub.stop()


@pytest.mark.skipif(HAPROXY is None, reason="haproxy is not installed (make test installs it)")
def test_two_hubs_behind_the_example_proxy_tell_their_clients_apart(
    proxied: tuple[str, list[str]],
) -> None:
    base, hubs = proxied
    public = {"host": "fleet.example.org"}
    with from_address("127.0.0.5", base) as sprayer, from_address("127.0.0.6", base) as office:
        # The proxy's public name is answered; straight to a hub bound to loopback it is not.
        assert office.get("/api/4/status", headers=public).status_code == 200
        with from_address("127.0.0.6", hubs[0]) as direct:
            assert direct.get("/api/4/status", headers=public).status_code == 421
        # Bound to loopback, but behind a proxy: nothing anonymous.
        assert office.get("/api/4/cpu").status_code == 401

        # Spraying from 127.0.0.5, whichever hub the proxy picks (failures are shared).
        for n in range(MAX_FAILURES * 10):
            got = sprayer.get("/api/4/cpu", auth=(f"user{n}", "guess"))
            assert got.status_code == 401, got.text
        time.sleep(1.2)  # each hub reads the other's failures once a second
        assert sprayer.get("/api/4/cpu", auth=(USER, PASSWORD)).status_code == 429
        # 127.0.0.6, behind the same proxy, signs in.
        assert office.get("/api/4/cpu", auth=(USER, PASSWORD)).status_code == 200
        login = office.post("/api/v1/login", json={"user": USER, "password": PASSWORD})
        assert login.status_code == 200, login.text
