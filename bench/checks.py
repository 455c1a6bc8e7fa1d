#!/usr/bin/env python3
"""Passive check results: throughput of one hub on SQLite, and the freshness scheduler's idle
cost and punctuality with many services.

Run from the repository root::

    .venv/bin/python bench/checks.py            # 10 s of load, 100,000 services idle
    .venv/bin/python bench/checks.py --quick    # 3 s of load, 20,000 services

1. **Throughput.** A ``fleetwatch serve`` on a fresh SQLite file (``--refresh 60``, so the
   collector stays out of the way), 100 services, and ``wrk`` posting
   ``PROCESS_SERVICE_CHECK_RESULT`` with HTTP Basic over 64 connections, each request to the next
   service, one result in 20 CRITICAL (so about one in ten is a hard state change, which also
   writes an event). Every 200 is a result committed before the reply. Target: 3,000/s.
2. **Freshness.** In process, on a SQLite file holding N services with ``check_freshness``
   (none due): the scheduler's CPU share over an idle window (target under 2 % of one core),
   then one service made due 2 s ahead: how late its stale result is (target under 1 s).

Everything stays on 127.0.0.1. The Markdown report goes to stdout, the data to
``bench/results/checks-<UTC timestamp>.json``.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import os
import re
import sqlite3
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # executed as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

REPO = Path(__file__).resolve().parents[1]
USER, PASSWORD = "bench", "bench-password"
SERVICES = 100
LUA = """
local n = 0
local auth = "Basic %s"
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = auth
request = function()
  n = n + 1
  local body = string.format(
    '{"host_name":"bench","service_description":"svc%%d","status_code":%%d,' ..
    '"plugin_output":"result %%d | t=%%dms;100;200;0"}', n %% %d,
    (n %% 20 == 0) and 2 or 0, n, n %% 500)
  return wrk.format(nil, "/api/command/PROCESS_SERVICE_CHECK_RESULT", nil, body)
end
"""


def _free_port() -> int:
    import socket  # noqa: PLC0415

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


async def _prepare_store(data_dir: Path) -> None:
    from fleetwatch.auth.secrets import PasswordHashing  # noqa: PLC0415
    from fleetwatch.store import open_store  # noqa: PLC0415

    store = open_store(f"sqlite:///{data_dir / 'fleetwatch.sqlite3'}")
    await store.open()
    try:
        await store.add_user(USER, PasswordHashing().hash(PASSWORD), ["status_update"])
        await store.add_check_object("host", "bench")
        await asyncio.gather(*(store.add_check_object("service", "bench", f"svc{i}")
                               for i in range(SERVICES)))  # fmt: skip
    finally:
        await store.close()


def throughput(duration: float) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="fw-bench-checks-") as tmp:
        data = Path(tmp)
        asyncio.run(_prepare_store(data))
        port = _free_port()
        hub = subprocess.Popen(
            [str(REPO / ".venv/bin/fleetwatch"), "serve", "--port", str(port), "--data-dir",
             str(data), "--refresh", "60"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            _wait_ready(port)
            token = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
            script = data / "post.lua"
            script.write_text(LUA % (token, SERVICES))
            done = subprocess.run(
                ["wrk", "-t2", "-c64", f"-d{duration:g}s", "--latency", "-s", str(script),
                 f"http://127.0.0.1:{port}/"], capture_output=True, text=True, check=True,
            )  # fmt: skip
        finally:
            hub.terminate()
            hub.wait(30)
        committed = _count_results(data / "fleetwatch.sqlite3")
    requests = int(re.search(r"(\d+) requests in", done.stdout)[1])  # type: ignore[index]
    bad = re.search(r"Non-2xx or 3xx responses: (\d+)", done.stdout)
    non_2xx = int(bad[1]) if bad else 0
    p99 = re.search(r"99%\s+(\S+)", done.stdout)
    return {
        "duration_s": duration,
        "requests": requests,
        "non_2xx": non_2xx,
        "accepted_per_s": (requests - non_2xx) / duration,
        "committed_rows": committed,
        "p99": p99[1] if p99 else "",
        "wrk": done.stdout,
    }


def _wait_ready(port: int) -> None:
    import httpx  # noqa: PLC0415

    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            if httpx.get(f"http://127.0.0.1:{port}/api/4/status").status_code == 200:
                return
        except httpx.HTTPError:
            pass
        time.sleep(0.1)
    raise RuntimeError("the hub did not start")


def _count_results(path: Path) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute("SELECT count(*) FROM check_results").fetchone()[0])


async def freshness(services: int, idle: float) -> dict[str, Any]:
    from fleetwatch.engine.checks import CheckService  # noqa: PLC0415
    from fleetwatch.engine.freshness import FreshnessScheduler  # noqa: PLC0415
    from fleetwatch.store import open_store  # noqa: PLC0415

    with tempfile.TemporaryDirectory(prefix="fw-bench-fresh-") as tmp:
        path = Path(tmp) / "fleetwatch.sqlite3"
        store = open_store(f"sqlite:///{path}")
        await store.open()
        await store.add_check_object("host", "h")
        await store.close()
        now = time.time()
        with sqlite3.connect(path) as conn:  # bulk set-up, not what is measured
            conn.executemany(
                "INSERT INTO check_objects (kind, host_id, host_name, service_description,"
                " check_freshness, freshness_threshold, created_at, fresh_due_at)"
                " VALUES ('service', 1, 'h', ?, 1, 86400, ?, ?)",
                ((f"s{i}", now, now + 86400 + i) for i in range(services)),
            )
        await store.open()
        checks = CheckService(store)
        await checks.prepare()
        scheduler = FreshnessScheduler(checks)
        stop = asyncio.Event()
        task = asyncio.create_task(scheduler.run(stop))
        await asyncio.sleep(0.5)
        cpu0, wall0 = time.process_time(), time.monotonic()
        await asyncio.sleep(idle)
        cpu = time.process_time() - cpu0
        wall = time.monotonic() - wall0
        # One service due 2 s from now, set from outside (as another process would).
        due = time.time() + 2
        with sqlite3.connect(path) as conn:
            conn.execute("UPDATE check_objects SET fresh_due_at = ? WHERE service_description"
                         " = 's0'", (due,))  # fmt: skip
        while True:
            obj = await store.get_check_object("h", "s0")
            assert obj is not None
            if obj.is_stale:
                break
            await asyncio.sleep(0.01)
        [result] = await store.check_results(obj.id, limit=1)
        stop.set()
        await task
        await store.close()
    return {
        "services": services,
        "idle_s": wall,
        "idle_core_percent": 100 * cpu / wall,
        "stale_late_s": result.checked_at - due,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="a smoke run")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target fails")
    args = parser.parse_args()
    duration, services, idle = (3.0, 20_000, 5.0) if args.quick else (10.0, 100_000, 15.0)
    print("throughput...", file=sys.stderr)
    load = throughput(duration)
    print("freshness...", file=sys.stderr)
    fresh = asyncio.run(freshness(services, idle))
    targets = [
        ("check results/s (SQLite, committed before the 200)", load["accepted_per_s"], ">=",
         3000.0),
        (f"freshness idle CPU, % of one core ({services:,} services)",
         fresh["idle_core_percent"], "<", 2.0),
        ("stale result after its deadline, s", fresh["stale_late_s"], "<", 1.0),
    ]  # fmt: skip
    print("| measure | value | target | |\n| :-- | --: | --: | :-- |")
    failed = False
    for name, value, op, target in targets:
        ok = value >= target if op == ">=" else value < target
        failed |= not ok
        print(f"| {name} | {value:,.2f} | {op} {target:,g} | {'PASS' if ok else 'FAIL'} |")
    print(f"\n{load['requests']:,} requests, {load['non_2xx']} not 2xx, "
          f"{load['committed_rows']:,} results committed, p99 {load['p99']}")  # fmt: skip
    results = REPO / "bench" / "results"
    results.mkdir(exist_ok=True)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = {"throughput": load, "freshness": fresh, "cpus": os.cpu_count()}
    (results / f"checks-{stamp}.json").write_text(json.dumps(out, indent=2))
    return 1 if failed and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
