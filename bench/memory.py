#!/usr/bin/env python3
"""Resident memory: the hub against Glances 4.5.x after the same read load, and the agent.

Run from the repository root (under the shared bench lock)::

    flock /tmp/fleetwatch-bench.lock .venv/bin/python bench/memory.py           # 3 rounds
    flock /tmp/fleetwatch-bench.lock .venv/bin/python bench/memory.py --part agent

* **hub**: per round, a fresh Glances (``bench/.glances-venv``, loopback-only config,
  ``--disable-check-update``) and a fresh ``fleetwatch serve`` on SQLite, one after the other
  (order alternates), each given the same read load on the Glances API v4 routes both serve;
  then ``VmRSS`` of each process tree. The figure is the median of the rounds.
* **agent**: per round, a hub and ``fleetwatch push --interval 1`` to it; after ``--pushes``
  documents ``VmRSS`` of the agent (steady state: its collectors, spool and connection are
  all in use by then). Median of the rounds.

Everything stays on 127.0.0.1; each server is stopped on the way out.
"""

from __future__ import annotations

import argparse
import http.client
import os
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

if __package__ in (None, ""):  # executed as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import _glances, _procs, _report
from bench.glances_api import hub_argv, hub_exe

# Another build to measure (a checkout of an older commit, say): its `fleetwatch` script.
EXE = os.environ.get("FLEETWATCH_BENCH_EXE") or str(hub_exe())

# Routes both servers answer with the same shape; /all and /processlist are the heavy ones.
ROUTES = (
    "/api/4/status",
    "/api/4/pluginslist",
    "/api/4/cpu",
    "/api/4/mem",
    "/api/4/load",
    "/api/4/fs",
    "/api/4/network",
    "/api/4/all",
    "/api/4/processlist",
    "/api/4/all/limits",
)
READY_TIMEOUT_S = 60.0
LIMIT_MIB = 25.0  # the agent's target
HUB_RATIO = 0.8  # the hub's target against Glances


def log(msg: str) -> None:
    print(f"# {time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


def read_load(server: _procs.Server, per_route: int, connections: int) -> tuple[int, int]:
    """``per_route`` GETs of every route over ``connections`` keep-alive connections at once;
    (answered 200, others)."""
    counts = [0, 0]
    lock = threading.Lock()

    def client(share: int) -> None:
        conn = http.client.HTTPConnection(server.host, server.port, timeout=30)
        try:
            for route in ROUTES:
                for _ in range(share):
                    conn.request("GET", route)
                    response = conn.getresponse()
                    response.read()
                    with lock:
                        counts[response.status != 200] += 1
        finally:
            conn.close()

    share = max(1, per_route // connections)
    threads = [threading.Thread(target=client, args=(share,)) for _ in range(connections)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=600)
    return counts[0], counts[1]


def start(name: str, argv: list[str], port: int, root: Path, env: dict[str, str] | None = None
          ) -> _procs.Server:  # fmt: skip
    server = _procs.spawn(name, argv, port=port, log_path=root / f"{name}.log", env=env)
    _procs.wait_ready(server, "/api/4/status", timeout_s=READY_TIMEOUT_S)
    return server


def hub_round(root: Path, config: Path, args: argparse.Namespace, rnd: int) -> dict[str, int]:
    """RSS (KiB) of Glances and the hub after the same read load."""
    out: dict[str, int] = {}
    order = ("hub", "glances") if rnd % 2 == 0 else ("glances", "hub")
    for key in order:
        port = _procs.free_port()
        if key == "hub":
            data = root / f"hub-{rnd}"
            argv = [EXE, *hub_argv(port, data, args.refresh)[1:]]
        else:
            argv = _glances.glances_argv(port, config, refresh_s=args.refresh)
        server = start(f"{key}-{rnd}", argv, port, root)
        try:
            time.sleep(args.settle)  # a few collections before the load, as in use
            ok, bad = read_load(server, args.requests, args.connections)
            time.sleep(args.settle)
            out[key] = _procs.rss_kib(server.pid)
            log(f"round {rnd} {key:8s} {ok} x 200, {bad} other; "
                f"VmRSS {out[key] / 1024:.1f} MiB")  # fmt: skip
        finally:
            _procs.stop(server)
    return out


def agent_round(root: Path, args: argparse.Namespace, rnd: int) -> tuple[int, int]:
    """(VmRSS KiB of ``fleetwatch push`` after ``args.pushes`` documents, documents stored)."""
    data = root / f"agent-hub-{rnd}"
    exe = EXE
    token = subprocess.run([exe, "system", "add", "bench-agent", "--data-dir", str(data)],
                           capture_output=True, text=True, check=True, timeout=60
                           ).stdout.strip().splitlines()[-1]  # fmt: skip
    port = _procs.free_port()
    hub_command = [exe, *hub_argv(port, data, args.refresh)[1:]]
    hub = start(f"agent-hub-{rnd}", hub_command, port, root)
    try:
        argv = [exe, "push", "--hub", f"http://127.0.0.1:{port}", "--interval", "1",
                "--spool", str(root / f"spool-{rnd}")]  # fmt: skip
        argv += ["--http1"] if args.http1 else []
        agent = _procs.spawn(f"agent-{rnd}", argv, port=port, log_path=root / f"agent-{rnd}.log",
                             env={"FLEETWATCH_TOKEN": token})  # fmt: skip
        try:
            # One second of rate baseline, then one push a second.
            deadline = time.monotonic() + 1.5 + args.pushes + 30
            stored = 0
            while time.monotonic() < deadline and stored < args.pushes:
                time.sleep(0.5)
                stored = snapshots(data)
            rss = _procs.rss_kib(agent.pid)
            log(f"round {rnd} agent    {stored} documents stored; VmRSS {rss / 1024:.1f} MiB")
            return rss, stored
        finally:
            _procs.stop(agent)
    finally:
        _procs.stop(hub)


def snapshots(data: Path) -> int:
    try:
        with sqlite3.connect(f"file:{data / 'fleetwatch.sqlite3'}?mode=ro", uri=True) as db:
            row = db.execute("SELECT count(*) FROM snapshots WHERE source = 'push'").fetchone()
    except sqlite3.Error:
        return 0
    return int(row[0])


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--part", choices=("both", "hub", "agent"), default="both")
    p.add_argument("--rounds", type=int, default=3)
    p.add_argument("--requests", type=int, default=40, help="GETs per route per server")
    p.add_argument("--connections", type=int, default=4, help="keep-alive connections at once")
    p.add_argument("--pushes", type=int, default=6, help="documents the agent sends first")
    p.add_argument(
        "--http1",
        action="store_true",
        help="the agent speaks HTTP/1.1 only (as before HTTP/2: h2 is not loaded)",
    )
    p.add_argument("--refresh", type=int, default=2, help="seconds between collections")
    p.add_argument("--settle", type=float, default=3.0, help="seconds before and after load")
    return p.parse_args(argv)


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    rounds = max(1, min(args.rounds, 20))
    lines: list[str] = []
    with tempfile.TemporaryDirectory(prefix="fw-memory-") as tmp:
        root = Path(tmp)
        try:
            if args.part in ("both", "agent"):
                agent = [agent_round(root, args, r) for r in range(rounds)]
                rss = _report.median(kib for kib, _ in agent)
                lines.append(f"agent VmRSS after {args.pushes} pushes, median of {rounds}: "
                             f"{_report.fmt_mib(rss)} (target < {LIMIT_MIB:g} MiB: "
                             f"{'PASS' if rss / 1024 < LIMIT_MIB else 'FAIL'}); rounds: "
                             + ", ".join(f"{k / 1024:.1f} MiB ({n} stored)"
                                         for k, n in agent))  # fmt: skip
            if args.part in ("both", "hub"):
                version = _glances.ensure_glances()
                config = _glances.write_config(root / "glances")
                hub = [hub_round(root, config, args, r) for r in range(rounds)]
                mine = _report.median(r["hub"] for r in hub)
                theirs = _report.median(r["glances"] for r in hub)
                x = _report.ratio(mine, theirs)
                lines.append(f"hub VmRSS {_report.fmt_mib(mine)} vs Glances {version} "
                             f"{_report.fmt_mib(theirs)} after {args.requests} GETs of each of "
                             f"{len(ROUTES)} routes, median of {rounds}: {x:.2f}x (target <= "
                             f"{HUB_RATIO}x: {'PASS' if x <= HUB_RATIO else 'FAIL'}); rounds: "
                             + ", ".join(f"{r['hub'] / 1024:.1f}/{r['glances'] / 1024:.1f} MiB"
                                         for r in hub))  # fmt: skip
        finally:
            _procs.kill_all()
    when = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"{os.cpu_count()} CPUs (shared machine); {when}; {EXE}")
    for line in lines:
        print(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
