#!/usr/bin/env python3
"""Passive check results: throughput of one hub on SQLite and PostgreSQL, and the freshness
scheduler's idle cost and punctuality with many services.

Run from the repository root (``make bench-checks``; ``wrk`` is installed with apt-get when
missing)::

    .venv/bin/python bench/checks.py              # 3 rounds of 10 s per backend, 100,000 services
    .venv/bin/python bench/checks.py --quick      # 1 round of 3 s, 20,000 services
    .venv/bin/python bench/checks.py --profile    # + a py-spy profile of the hub under load

1. **Throughput.** A ``fleetwatch serve`` (``--refresh 60``, so the collector stays out of the
   way) on a fresh SQLite file, then on a throw-away PostgreSQL database, with 100 services.
   ``wrk`` (C, so the load generator costs little of the 2 shared cores) posts
   ``PROCESS_SERVICE_CHECK_RESULT`` with HTTP Basic over 64 connections, each request to the
   next service, each service's every 20th result CRITICAL (so one result in ten is a hard
   state change, OK to CRITICAL or back, which also writes an event). Every 200 is a result
   committed before the reply; ``committed / 200`` (rows counted in the database over 200s
   counted by wrk, at least 1) checks it. In the same rounds, alternating, the same ``wrk``
   asks ``GET /api/v1/me`` with the same credential: a trivial authenticated endpoint of the
   same server, so the ratio shows what the check path costs beyond HTTP and auth. Medians
   over the rounds; the CPU used by the hub, by wrk and by everything else is reported too.
   Target: 3,000 results/s on SQLite.
2. **Freshness.** In process, on a SQLite file holding N services with ``check_freshness``
   (none due): the scheduler's CPU share over an idle window (target under 2 % of one core),
   then one service made due 2 s ahead: how late its stale result is (target under 1 s).

Everything stays on 127.0.0.1. The Markdown report goes to stdout, the data to
``bench/results/checks-<UTC timestamp>.json`` (and the profiles beside it).
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
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

from bench import _procs, _report, _wrk
from bench._postgres import scratch_database

REPO = Path(__file__).resolve().parents[1]
RESULTS = REPO / "bench" / "results"
USER, PASSWORD = "bench", "bench-password"
SERVICES = 100
POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
LUA = """
local n = 0
local services = %d
wrk.method = "POST"
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "%s"
request = function()
  n = n + 1
  local body = string.format(
    '{"host_name":"bench","service_description":"svc%%d","status_code":%%d,' ..
    '"plugin_output":"result %%d | t=%%dms;100;200;0"}', n %% services,
    (math.floor(n / services) %% 20 == 0) and 2 or 0, n, n %% 500)
  return wrk.format(nil, "/api/command/PROCESS_SERVICE_CHECK_RESULT", nil, body)
end
"""


async def _prepare_store(url: str) -> None:
    from fleetwatch.auth.secrets import PasswordHashing  # noqa: PLC0415
    from fleetwatch.store import open_store  # noqa: PLC0415

    store = open_store(url)
    await store.open()
    try:
        await store.add_user(USER, PasswordHashing().hash(PASSWORD), ["status_update"])
        await store.add_check_object("host", "bench")
        await asyncio.gather(*(store.add_check_object("service", "bench", f"svc{i}")
                               for i in range(SERVICES)))  # fmt: skip
    finally:
        await store.close()


def _count_results(url: str) -> int:
    sql = "SELECT count(*) FROM check_results"
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            return int(conn.execute(sql).fetchone()[0])
    import psycopg  # noqa: PLC0415

    with psycopg.connect(url) as conn:
        row = conn.execute(sql).fetchone()
        assert row is not None
        return int(row[0])


def _load(url: str, script: Path, connections: int, duration: float) -> _wrk.WrkResult:
    argv = ["wrk", "-t2", f"-c{connections}", f"-d{duration:g}s", "--latency", "-s", str(script),
            url]  # fmt: skip
    done = subprocess.run(argv, capture_output=True, text=True, check=True,
                          timeout=duration + 60)  # fmt: skip
    return _wrk.parse_wrk_output(done.stdout, url=url, argv=argv)


def _profile(pid: int, seconds: float, out: Path) -> subprocess.Popen[bytes]:
    """py-spy over the hub while it is under load (native frames off: Python's own cost)."""
    py_spy = REPO / ".venv/bin/py-spy"
    argv = [str(py_spy), "record", "-p", str(pid), "-d", f"{seconds:g}", "-r", "200",
            "-f", "raw", "-o", str(out)]  # fmt: skip
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)


def throughput(
    label: str, url: str, *, rounds: int, duration: float, connections: int, profile: bool
) -> dict[str, Any]:
    """``rounds`` alternating runs of the command path and ``/api/v1/me`` on one hub."""
    with tempfile.TemporaryDirectory(prefix="fw-bench-checks-") as tmp:
        data = Path(tmp)
        url = url or f"sqlite:///{data / 'fleetwatch.sqlite3'}"
        asyncio.run(_prepare_store(url))
        port = _procs.free_port()
        argv = [str(REPO / ".venv/bin/fleetwatch"), "serve", "--port", str(port), "--data-dir",
                str(data), "--database", url, "--refresh", "60"]  # fmt: skip
        hub = _procs.spawn(label, argv, port=port, log_path=data / "hub.log")
        auth = _wrk.basic_auth_header(f"{USER}:{PASSWORD}").removeprefix("Authorization: ")
        post = data / "post.lua"
        post.write_text(LUA % (SERVICES, auth))
        get = data / "get.lua"
        get.write_text(f'wrk.headers["Authorization"] = "{auth}"\n')
        base = f"http://127.0.0.1:{port}"
        runs: list[dict[str, Any]] = []
        try:
            _procs.wait_ready(hub)
            _load(base + "/", post, connections, 2)  # warm-up, discarded
            for index in range(rounds):
                order = ("post", "get") if index % 2 == 0 else ("get", "post")
                run: dict[str, Any] = {}
                for kind in order:
                    before = _count_results(url) if kind == "post" else 0
                    cpu0 = _procs.cpu_snapshot(hub.pid)
                    target = base + ("/" if kind == "post" else "/api/v1/me")
                    done = _load(target, post if kind == "post" else get, connections, duration)
                    usage = _procs.cpu_usage(cpu0, _procs.cpu_snapshot(hub.pid))
                    run[kind] = {**done.to_json(), "errors": done.socket_errors + done.non_2xx_3xx,
                                 "cpu": usage.to_json()}  # fmt: skip
                    if kind == "post":
                        time.sleep(0.2)  # the last answers' groups are committed by now
                        run["committed"] = _count_results(url) - before
                runs.append(run)
            profile_file = None
            if profile:
                profile_file = RESULTS / f"checks-profile-{label.lower()}.txt"
                spy = _profile(hub.pid, duration, profile_file)
                time.sleep(0.5)
                _load(base + "/", post, connections, duration)
                spy.wait(30)
        finally:
            _procs.stop(hub)
    posts = [run["post"] for run in runs]
    gets = [run["get"] for run in runs]
    ok = [p["requests_per_s"] * (1 - p["non_2xx_3xx"] / max(p["requests"], 1)) for p in posts]
    return {
        "backend": label,
        "accepted_per_s": _report.median(ok),
        "trivial_per_s": _report.median(g["requests_per_s"] for g in gets),
        "ratio": _report.median(
            _report.ratio(a, g["requests_per_s"]) for a, g in zip(ok, gets, strict=True)
        ),
        "p99_ms": _report.median(p["p99_ms"] for p in posts),
        "hub_cores": _report.median(p["cpu"]["server_s"] / p["cpu"]["wall_s"] for p in posts),
        "wrk_cores": _report.median(p["cpu"]["harness_s"] / p["cpu"]["wall_s"] for p in posts),
        "other_cores": _report.median(p["cpu"]["other_cores"] for p in posts),
        "errors": sum(p["errors"] for p in posts),
        "committed_vs_2xx": min(
            run["committed"] / max(run["post"]["requests"] - run["post"]["non_2xx_3xx"], 1)
            for run in runs
        ),
        "profile": str(profile_file) if profile_file else None,
        "runs": runs,
    }


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
    parser.add_argument("--rounds", type=int, help="alternating rounds per backend (3)")
    parser.add_argument("--duration", type=float, help="seconds per wrk run (10)")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--postgres", default=POSTGRES, help="admin URL; '' skips PostgreSQL")
    parser.add_argument("--skip-freshness", action="store_true")
    parser.add_argument("--profile", action="store_true", help="py-spy the hub under load")
    parser.add_argument("--check", action="store_true", help="exit 1 when a target fails")
    args = parser.parse_args()
    quick = (1, 3.0, 20_000, 5.0)
    rounds, duration, services, idle = quick if args.quick else (3, 10.0, 100_000, 15.0)
    rounds, duration = args.rounds or rounds, args.duration or duration
    RESULTS.mkdir(exist_ok=True)
    _wrk.ensure_wrk()  # apt-get install -y wrk when it is missing
    loads = []
    with contextlib.ExitStack() as stack:
        backends = [("SQLite", "")]
        if args.postgres:
            pg_url = stack.enter_context(scratch_database(args.postgres, "fw_bench_checks"))
            backends.append(("PostgreSQL", pg_url))
        for label, url in backends:
            print(f"throughput on {label}...", file=sys.stderr)
            load = throughput(label, url, rounds=rounds, duration=duration,
                              connections=args.connections, profile=args.profile)  # fmt: skip
            loads.append(load)
    fresh = None
    if not args.skip_freshness:
        print("freshness...", file=sys.stderr)
        fresh = asyncio.run(freshness(services, idle))
    print(f"{rounds} round(s) of {duration:g} s, {args.connections} connections, "
          f"{os.cpu_count()} CPUs\n")  # fmt: skip
    headers = ["backend", "results/s", "GET /api/v1/me req/s", "ratio", "p99", "hub cores",
               "wrk cores", "other cores", "errors", "committed / 200"]  # fmt: skip
    rows = [[r["backend"], _report.fmt_rate(r["accepted_per_s"]),
             _report.fmt_rate(r["trivial_per_s"]), _report.fmt_ratio(r["ratio"]),
             _report.fmt_ms(r["p99_ms"]), f"{r['hub_cores']:.2f}", f"{r['wrk_cores']:.2f}",
             f"{r['other_cores']:.2f}", str(r["errors"]), f"{r['committed_vs_2xx']:.3f}"]
            for r in loads]  # fmt: skip
    print(_report.markdown_table(headers, rows))
    targets = [("check results/s (SQLite, committed before the 200)",
                loads[0]["accepted_per_s"], ">=", 3000.0)]  # fmt: skip
    if fresh is not None:
        targets += [
            (f"freshness idle CPU, % of one core ({services:,} services)",
             fresh["idle_core_percent"], "<", 2.0),
            ("stale result after its deadline, s", fresh["stale_late_s"], "<", 1.0),
        ]  # fmt: skip
    print("\n| measure | value | target | |\n| :-- | --: | --: | :-- |")
    failed = False
    for name, value, op, target in targets:
        ok = value >= target if op == ">=" else value < target
        failed |= not ok
        print(f"| {name} | {value:,.2f} | {op} {target:,g} | {'PASS' if ok else 'FAIL'} |")
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    out = {"throughput": loads, "freshness": fresh, "cpus": os.cpu_count()}
    (RESULTS / f"checks-{stamp}.json").write_text(json.dumps(out, indent=2))
    return 1 if failed and args.check else 0


if __name__ == "__main__":
    sys.exit(main())
