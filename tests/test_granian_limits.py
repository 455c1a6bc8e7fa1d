"""Granian's cap per client address, enforced from outside it (``fleetwatch.granian_limits``).

In process, on real loopback sockets: what the reaper shuts down and what it leaves alone.
End to end, a real ``fleetwatch serve`` on Granian: one address trickling headers on more
connections than the hub's ceiling no longer keeps another address out.
"""

from __future__ import annotations

import asyncio
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from serving import ServeProcess
from test_slow_clients_e2e import HEAD_FIRST, Held, hold

from fleetwatch.api.client_limits import ConnectionLimits
from fleetwatch.granian_limits import ConnectionActivity, ConnectionReaper
from fleetwatch.sock_diag import established


@pytest.fixture
def listening() -> Iterator[socket.socket]:
    with socket.create_server(("127.0.0.1", 0)) as server:
        yield server


def connect(server: socket.socket, source: str) -> tuple[socket.socket, socket.socket]:
    client = socket.create_connection(server.getsockname(), source_address=(source, 0))
    accepted, _ = server.accept()
    return client, accepted


def ended_by_peer(client: socket.socket) -> bool:
    try:
        return client.recv(1, socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False  # still open, nothing to read


def test_past_the_mark_an_address_keeps_only_its_cap(listening: socket.socket) -> None:
    port = listening.getsockname()[1]
    limits = ConnectionLimits(max_connections=40, reserved=10, per_address=5)
    reaper = ConnectionReaper(port, limits)
    assert reaper.usable
    pairs = [connect(listening, "127.0.0.2") for _ in range(30)]
    pairs += [connect(listening, "127.0.0.3") for _ in range(3)]
    # An outgoing connection of the hub's own (to the database, say) is never its business.
    with socket.create_server(("127.0.0.1", 0)) as elsewhere:
        outgoing, incoming = connect(elsewhere, "127.0.0.1")
        try:
            assert reaper.check() == 0  # over its cap since this look only: not yet
            assert reaper.check() == 25
            assert reaper.check() == 0  # what is left is within the cap, or closing
        finally:
            outgoing.close()
            incoming.close()
    ended = [ended_by_peer(client) for client, _ in pairs]
    assert ended[:5] == [False] * 5  # the first ones in are kept
    assert sum(ended) == 25
    assert ended[30:] == [False] * 3  # another address, within its cap
    for client, accepted in pairs:
        client.close()
        accepted.close()


def test_below_the_mark_nothing_is_looked_at(listening: socket.socket) -> None:
    port = listening.getsockname()[1]
    limits = ConnectionLimits(max_connections=4096, reserved=256, per_address=5)
    pairs = [connect(listening, "127.0.0.2") for _ in range(20)]
    try:
        assert ConnectionReaper(port, limits).check() == 0
    finally:
        for client, accepted in pairs:
            client.close()
            accepted.close()


def test_idle_connections_go_busy_and_recent_ones_stay(listening: socket.socket) -> None:
    port = listening.getsockname()[1]
    limits = ConnectionLimits(header_timeout=5, idle_timeout=10)
    activity = ConnectionActivity(app=None)  # type: ignore[arg-type]
    reaper = ConnectionReaper(port, limits, activity=activity)
    pairs = [connect(listening, "127.0.0.2") for _ in range(4)]
    peers = [client.getsockname() for client, _ in pairs]
    now = time.monotonic()
    try:
        assert reaper._cut_idle(now, shed=False) == 0  # first seen now
        activity.busy[peers[0]] = 1  # a request in progress (a live stream, say)
        activity.last[peers[0]] = now - 100
        activity.last[peers[1]] = now + 15  # idle 5 s at the next look
        activity.last[peers[2]] = now + 1  # idle 19 s: past the idle timeout
        # peers[3] never made a request: 20 s after it was first seen, past the header one
        assert reaper._cut_idle(now + 20, shed=False) == 2
        assert [ended_by_peer(client) for client, _ in pairs] == [False, False, True, True]
        assert reaper.idle_cut == 2
    finally:
        for client, accepted in pairs:
            client.close()
            accepted.close()


def test_near_the_ceiling_the_longest_idle_are_shed(listening: socket.socket) -> None:
    port = listening.getsockname()[1]
    # Shedding from 5 connections (6 less the reserve of 1) down to 4.
    limits = ConnectionLimits(max_connections=6, reserved=1, idle_timeout=100)
    activity = ConnectionActivity(app=None)  # type: ignore[arg-type]
    reaper = ConnectionReaper(port, limits, activity=activity)
    pairs = [connect(listening, "127.0.0.2") for _ in range(6)]
    now = time.monotonic()
    try:
        reaper._cut_idle(now, shed=False)
        for age, (client, _) in zip([3, 50, 2, 40, 0.5, 5], pairs, strict=True):
            activity.last[client.getsockname()] = now + 10 - age
        assert reaper._cut_idle(now + 10, shed=True) == 2
        # Idle 50 and 40 s go; idle half a second is never shed (between two requests).
        ended = [ended_by_peer(client) for client, _ in pairs]
        assert ended == [False, True, False, True, False, False]
        assert reaper.shed == 2
    finally:
        for client, accepted in pairs:
            client.close()
            accepted.close()


def test_connections_not_accepted_yet_are_not_looked_at() -> None:
    # Under load the accept queue is seldom empty. The kernel names all of its connections
    # inode 0 (no socket file yet): taken for one connection that never sent a request, it
    # made every idle look walk every descriptor of the hub in search of it.
    with socket.create_server(("127.0.0.1", 0), backlog=16) as server:
        port = server.getsockname()[1]
        queued = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
        accepted, _ = server.accept()
        try:
            found = established(port, socket.AF_INET, {})
            assert 0 not in found
            assert list(found) == [socket_inode(accepted)]
        finally:
            accepted.close()
            for client in queued:
                client.close()


def socket_inode(sock: socket.socket) -> int:
    return int(Path(f"/proc/self/fd/{sock.fileno()}").readlink().name[8:-1])


HOLDER = """
import socket, sys, time
server = socket.create_server(("127.0.0.1", 0))
print(server.getsockname()[1], flush=True)
held = [server.accept()[0] for _ in range(3)]
sys.stdin.read()
"""


def test_a_connection_without_a_descriptor_here_costs_one_pass() -> None:
    # Connections on the port that the look finds but this process holds no descriptor of
    # (closing, or another process's): one pass over the descriptors looks for them, and the
    # looks after it do not walk every descriptor again.
    holder = subprocess.Popen([sys.executable, "-c", HOLDER], stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)  # fmt: skip
    assert holder.stdout is not None
    port = int(holder.stdout.readline())
    clients = [socket.create_connection(("127.0.0.1", port)) for _ in range(3)]
    limits = ConnectionLimits(header_timeout=5, idle_timeout=10)
    activity = ConnectionActivity(app=None)  # type: ignore[arg-type]
    reaper = ConnectionReaper(port, limits, activity=activity)
    now = time.monotonic()
    try:
        deadline = now + 5
        while len(established(port, socket.AF_INET, {})) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)  # the holder accepts them
        assert reaper._cut_idle(now, shed=False) == 0  # first seen
        for later in (20, 25, 30):  # past the header deadline: each look would cut them
            assert reaper._cut_idle(now + later, shed=False) == 0
        assert reaper.passes == 1
        assert not any(ended_by_peer(client) for client in clients)
    finally:
        for client in clients:
            client.close()
        holder.communicate("")


CEILING = 100
FLOOD = 130  # more than the ceiling, from one address
PER_ADDRESS = 10
# On a shared 2-core machine a status probe takes milliseconds, seconds when very busy;
# without the cap it would wait until the flood gives up (HOLD_SECONDS), past this.
PROMPT = 4.0
HOLD_SECONDS = 6.0  # the flood trickles this long at most (the hub's header deadline is 30 s)


async def flood_headers_and_probe(url: str) -> tuple[Held, list[float]]:
    port = int(url.rsplit(":", 1)[1])
    held = Held()
    give_up = time.monotonic() + HOLD_SECONDS
    attackers = [asyncio.create_task(hold(port, HEAD_FIRST, b"a", held, give_up))
                 for _ in range(FLOOD)]  # fmt: skip
    await asyncio.sleep(0.5)  # the ceiling is full of them before the first probe
    timings: list[float] = []
    async with httpx.AsyncClient(base_url=url, timeout=PROMPT * 3) as client:
        for _ in range(5):
            started = time.monotonic()
            answer = await client.get("/api/4/status", headers={"Connection": "close"})
            timings.append(time.monotonic() - started)
            assert answer.status_code == 200, answer.text
    await asyncio.gather(*attackers)
    return held, timings


@pytest.mark.e2e
def test_one_address_trickling_headers_past_the_ceiling_leaves_room(tmp_path: Path) -> None:
    env = {
        "FLEETWATCH_SERVER_HTTP_ENGINE": "granian",
        "FLEETWATCH_SERVER_HEADER_TIMEOUT_SECONDS": "30",
        "FLEETWATCH_SERVER_MAX_CONNECTIONS": str(CEILING),
        "FLEETWATCH_SERVER_RESERVED_CONNECTIONS": "20",
        "FLEETWATCH_SERVER_MAX_CONNECTIONS_PER_ADDRESS": str(PER_ADDRESS),
    }
    with ServeProcess(tmp_path, env=env) as hub:
        held, timings = asyncio.run(flood_headers_and_probe(hub.url))
    assert max(timings) < PROMPT, timings
    # What the ceiling had accepted past the address' cap was shut down at once, long before
    # the header deadline (the 30 Granian took next are below the mark: they wait for it).
    early = [seconds for seconds in held.lifetimes if seconds < HOLD_SECONDS - 1]
    assert len(early) >= CEILING - 2 * PER_ADDRESS, sorted(held.lifetimes)
    assert any("connections from 127.0.0.2" in line for line in hub.log), hub.log
    assert not any("Traceback" in line for line in hub.log), hub.log
