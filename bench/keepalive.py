"""Connections kept across pushes, and what keeping them costs the hub.

Two parts, each against a real ``fleetwatch serve`` (Granian) on loopback:

* ``connections``: the hub's deadlines scaled down 20x (header deadline 0.5 s for 10 s,
  idle timeout 3.75 s for 75 s) and ``fleetwatch push --interval 3`` (60 s scaled): the
  TCP connections the agent opens for ``--pushes`` pushes, counted by a loopback proxy in
  front of the hub, over HTTP/1.1 (``--http1``: what the agent did before) and HTTP/2.
* ``reaper``: the hub holding ``--idle`` idle HTTP/2 connections (each made one request, as
  an agent's does between pushes) from distinct addresses 127.1.x.y: the hub's CPU share
  over ``--window`` seconds with them and with none, and one idle look (the sock_diag dump
  and the per-connection lookups the hub makes every 5 s) timed in this process against the
  hub's port.

    flock /tmp/fleetwatch-bench.lock .venv/bin/python bench/keepalive.py
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

if __package__ in (None, ""):  # executed as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import _procs
from bench.glances_api import hub_argv, hub_exe
from fleetwatch.agent.http2 import H2Wire
from fleetwatch.api.client_limits import ConnectionLimits
from fleetwatch.granian_limits import ConnectionActivity, ConnectionReaper
from fleetwatch.sock_diag import established

# Another build to measure (main's code, to compare the hub's CPU): its `fleetwatch` script.
EXE = os.environ.get("FLEETWATCH_BENCH_EXE") or str(hub_exe())
SCALE = 20  # the hub's deadlines and the push interval, divided by this
FD_LIMIT = 20_000


def log(msg: str) -> None:
    print(f"# {time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


class CountingProxy:
    """Counts the TCP connections made to it; pipes each to the hub."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.url = f"http://127.0.0.1:{self.listener.getsockname()[1]}"
        self.connections = 0
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        with contextlib.suppress(OSError):
            while True:
                client, _ = self.listener.accept()
                self.connections += 1
                upstream = socket.create_connection(("127.0.0.1", self.port))
                for a, b in ((client, upstream), (upstream, client)):
                    threading.Thread(target=_pipe, args=(a, b), daemon=True).start()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.listener.shutdown(socket.SHUT_RDWR)
        self.listener.close()


def _pipe(source: socket.socket, sink: socket.socket) -> None:
    with contextlib.suppress(OSError):
        while data := source.recv(65536):
            sink.sendall(data)
    with contextlib.suppress(OSError):
        sink.shutdown(socket.SHUT_WR)


def stored(data: Path) -> int:
    try:
        with sqlite3.connect(f"file:{data / 'fleetwatch.sqlite3'}?mode=ro", uri=True) as db:
            return int(db.execute("SELECT count(*) FROM snapshots WHERE source = 'push'")
                       .fetchone()[0])  # fmt: skip
    except sqlite3.Error:
        return 0


def start_hub(root: Path, name: str, env: dict[str, str]) -> tuple[_procs.Server, Path]:
    data = root / name
    port = _procs.free_port()
    hub = _procs.spawn(name, [EXE, *hub_argv(port, data, 2)[1:]], port=port,
                       log_path=root / f"{name}.log", env=env)  # fmt: skip
    _procs.wait_ready(hub, "/api/4/status", timeout_s=60)
    return hub, data


def connections_part(root: Path, pushes: int, http1: bool) -> tuple[int, int]:
    """(connections the agent opened, documents stored) for ``pushes`` pushes."""
    env = {"FLEETWATCH_SERVER_HEADER_TIMEOUT_SECONDS": str(10 / SCALE),
           "FLEETWATCH_SERVER_IDLE_TIMEOUT_SECONDS": str(75 / SCALE)}  # fmt: skip
    name = f"conn-{'h1' if http1 else 'h2'}"
    hub, data = start_hub(root, name, env)
    try:
        token = subprocess.run([EXE, "system", "add", "bench-agent", "--data-dir", str(data)],
                               capture_output=True, text=True, check=True, timeout=60
                               ).stdout.strip().splitlines()[-1]  # fmt: skip
        proxy = CountingProxy(hub.port)
        argv = [EXE, "push", "--hub", proxy.url, "--interval", str(60 / SCALE),
                "--spool", str(root / f"spool-{name}")]  # fmt: skip
        argv += ["--http1"] if http1 else []
        agent = _procs.spawn(f"agent-{name}", argv, port=hub.port,
                             log_path=root / f"agent-{name}.log",
                             env={"FLEETWATCH_TOKEN": token})  # fmt: skip
        try:
            deadline = time.monotonic() + pushes * 60 / SCALE + 30
            while time.monotonic() < deadline and stored(data) < pushes:
                time.sleep(0.2)
        finally:
            _procs.stop(agent)
            proxy.close()
        return proxy.connections, stored(data)
    finally:
        _procs.stop(hub)


def hold_idle(port: int, count: int) -> list[H2Wire]:
    """``count`` HTTP/2 connections from 127.1.x.y, each after one answered request."""
    wires: list[H2Wire] = []
    for i in range(count):
        source = f"127.1.{i // 250}.{1 + i % 250}"
        sock = socket.create_connection(("127.0.0.1", port), timeout=30,
                                        source_address=(source, 0))  # fmt: skip
        wire = H2Wire(sock, f"127.0.0.1:{port}", "http")
        status = wire.exchange("GET", "/api/4/status", b"", {})[0]
        if status != 200:
            raise RuntimeError(f"connection {i}: {status}")
        wires.append(wire)
    return wires


def cpu_share(pid: int, seconds: float) -> float:
    before = _procs.cpu_seconds(pid)
    time.sleep(seconds)
    return (_procs.cpu_seconds(pid) - before) / seconds


def one_look_ms(port: int, peers: int) -> list[float]:
    """Wall and CPU ms of the hub's idle look over its connections, run here (the kernel
    answers for the network namespace), with an activity record for each (none late)."""
    limits = ConnectionLimits(max_connections=4 * FD_LIMIT, reserved=256, idle_timeout=3600,
                              header_timeout=3600)  # fmt: skip
    activity = ConnectionActivity(app=None)  # type: ignore[arg-type]
    reaper = ConnectionReaper(port, limits, activity=activity)
    now = time.monotonic()
    for peer in established(port, socket.AF_INET, {}).values():  # each finds its record
        activity.last[peer] = now
    times = []
    for _ in range(7):
        started = time.process_time()
        reaper._cut_idle(time.monotonic(), shed=False)
        times.append((time.process_time() - started) * 1000)
    if len(reaper._seen) < peers:
        raise RuntimeError(f"the look saw {len(reaper._seen)} connections, not {peers}")
    return times


def reaper_part(root: Path, idle: int, window: float) -> dict[str, float]:
    env = {"FLEETWATCH_SERVER_MAX_CONNECTIONS": str(idle + 1000),
           "FLEETWATCH_SERVER_MAX_CONNECTIONS_PER_ADDRESS": str(idle + 1000),
           "FLEETWATCH_SERVER_IDLE_TIMEOUT_SECONDS": "3600"}  # fmt: skip
    if os.environ.get("FLEETWATCH_BENCH_EXE"):  # an older build knows no idle timeout
        del env["FLEETWATCH_SERVER_IDLE_TIMEOUT_SECONDS"]
    hub, _ = start_hub(root, "reaper", env)
    try:
        time.sleep(5)
        empty = cpu_share(hub.pid, window)
        log(f"hub with no connection: {empty:.2%} of a core")
        started = time.monotonic()
        wires = hold_idle(hub.port, idle)
        log(f"{idle} idle HTTP/2 connections open in {time.monotonic() - started:.0f} s")
        time.sleep(5)
        held = cpu_share(hub.pid, window)
        still = sum(wire.alive() for wire in wires)
        log(f"hub with {idle} idle connections: {held:.2%} of a core; {still} still open")
        looks = one_look_ms(hub.port, idle)
        log(f"one idle look over {idle}: {statistics.median(looks):.1f} ms CPU (median of 7)")
        for wire in wires:
            wire.close()
        return {"empty": empty, "held": held, "open": still, "look_ms": statistics.median(looks)}
    finally:
        _procs.stop(hub)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--part", choices=("both", "connections", "reaper"), default="both")
    p.add_argument("--pushes", type=int, default=10)
    p.add_argument("--idle", type=int, default=10_000, help="idle connections the hub holds")
    p.add_argument("--window", type=float, default=60.0, help="seconds of CPU measured")
    args = p.parse_args()
    _, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, FD_LIMIT), hard))
    lines = []
    with tempfile.TemporaryDirectory(prefix="fw-keepalive-") as tmp:
        root = Path(tmp)
        try:
            if args.part in ("both", "connections"):
                for http1 in (True, False):
                    opened, docs = connections_part(root, args.pushes, http1)
                    lines.append(f"{'HTTP/1.1 (--http1, as before)' if http1 else 'HTTP/2'}: "
                                 f"{opened} connection(s) for {docs} pushes "
                                 f"{60 / SCALE:g} s apart, hub header deadline "
                                 f"{10 / SCALE:g} s, idle timeout {75 / SCALE:g} s")  # fmt: skip
                    log(lines[-1])
            if args.part in ("both", "reaper"):
                r = reaper_part(root, args.idle, args.window)
                lines.append(f"hub CPU over {args.window:g} s: {r['empty']:.2%} of a core with "
                             f"no connection, {r['held']:.2%} holding {args.idle} idle HTTP/2 "
                             f"connections ({r['open']:.0f} still open); one idle look "
                             f"(every 5 s) {r['look_ms']:.1f} ms CPU = "
                             f"{r['look_ms'] / 5000:.2%} of a core")  # fmt: skip
        finally:
            _procs.kill_all()
    print("\n".join(lines))


if __name__ == "__main__":
    main()
