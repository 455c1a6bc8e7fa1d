#!/usr/bin/env python3
"""Hostile requests: does one client's expensive request stop the hub for everyone else?

Run from the repository root::

    .venv/bin/python bench/hostile_requests.py                     # SQLite, then PostgreSQL
    .venv/bin/python bench/hostile_requests.py --backends sqlite --copies 5

A real ``fleetwatch serve`` (its own process, loopback only) on a fresh SQLite file or a
scratch PostgreSQL database gets a few snapshots and services, some holding ``"a" * 22 + "!"``.
Then ``--copies`` (default 10) of each of the worst requests run at once, ``--rounds`` (3) times:

* ``statistics.list`` with ``{"hostname": {"$regex": "(a+)+$"}}`` (catastrophic backtracking
  in a backtracking engine);
* ``/api/filter/query`` with ``[services] plugin_output ~ "(a+)+$"``;
* PostgreSQL only: ``statistics.list`` with ``$or`` of ``--clauses`` ``$elemMatch`` clauses;
* ``PROCESS_SERVICE_CHECK_RESULT`` with as many perfdata labels as the hub accepts (its
  documented limit when it has one, else 9,990: just under the writer queue).

Meanwhile one client asks ``GET /api/4/status`` every 10 ms and another submits
``submit_stats`` in a loop; the table gives their p50/p99 under attack, and the worst hostile
request's time and status. Every hostile request has a client timeout (``--timeout``), so the
run is bounded even against a hub that never answers. The machine is shared and noisy: compare
runs made together.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # executed as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import orjson
import psycopg

from bench import _procs, _report
from bench._postgres import scratch_database
from fleetwatch.auth.admin import Actor, Admin
from fleetwatch.auth.secrets import PasswordHashing
from fleetwatch.ingest import perfdata
from fleetwatch.store import open_store

REPO = Path(__file__).resolve().parents[1]
POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
EVIL = "a" * 22 + "!"
PASSWORD = "bench password"


@dataclass
class Timings:
    seconds: list[float] = field(default_factory=list)
    statuses: dict[int, int] = field(default_factory=dict)

    def add(self, seconds: float, status: int) -> None:
        self.seconds.append(seconds)
        self.statuses[status] = self.statuses.get(status, 0) + 1

    def quantile(self, q: float) -> float:
        if not self.seconds:
            return float("nan")
        ordered = sorted(self.seconds)
        return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def prepare(url: str) -> str:
    """A system token, and the users ``reader`` (readonly) and ``script`` (status_update)."""

    async def run() -> str:
        store = open_store(url)
        await store.open()
        try:
            admin = Admin(store, PasswordHashing())
            actor = Actor("bench", "127.0.0.1")
            _, token = await admin.add_system(actor, "bench")
            await admin.add_user(actor, "reader", PASSWORD, ["readonly"])
            await admin.add_user(actor, "script", PASSWORD, ["status_update", "admin"])
            return token
        finally:
            await store.close()

    return asyncio.run(run())


def snapshot(hostname: str, number: int) -> dict[str, Any]:
    disks = [{"Name": f"ada{i}", "KBps read": number + i, "KBps write": i} for i in range(4)]
    return {"hostname": hostname, "version": "bench", "uptime_seconds": 100 + number,
            "cpu": [{"user": 5, "system": 1, "idle": 94}], "disk": disks}  # fmt: skip


async def fill(client: httpx.AsyncClient, token: str) -> None:
    for number in range(40):
        name = EVIL if number % 10 == 0 else f"host{number}"
        answer = await client.put("/api/external/submit_stats", json=snapshot(name, number),
                                  auth=("", token))  # fmt: skip
        answer.raise_for_status()
    for number in range(21):
        host, service = (f"web{number % 5}", f"svc{number}") if number < 20 else ("perf", "perf")
        answer = await client.post(
            "/api/config/service",
            json={"host_name": host, "service_description": service},
            auth=("script", PASSWORD),
        )
        answer.raise_for_status()
    for number in range(20):
        output = EVIL if number % 4 == 0 else f"OK {number}"
        answer = await client.post("/api/command/PROCESS_SERVICE_CHECK_RESULT", json={
            "host_name": f"web{number % 5}", "service_description": f"svc{number}",
            "status_code": 0, "plugin_output": output}, auth=("script", PASSWORD))  # fmt: skip
        answer.raise_for_status()


def perfdata_labels() -> int:
    return int(getattr(perfdata, "MAX_LABELS", 9_990))


def hostile_requests(
    postgres: bool, clauses: int
) -> dict[str, Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]]:
    regex_query = orjson.dumps({"hostname": {"$regex": "(a+)+$"}}).decode()
    kinds: dict[str, Callable[[httpx.AsyncClient], Awaitable[httpx.Response]]] = {
        "statistics.list $regex": lambda c: c.get(
            "/api/v1/statistics.list", params={"query": regex_query}, auth=("reader", PASSWORD)
        ),
        "OP5 filter ~": lambda c: c.get(
            "/api/filter/query", params={"query": '[services] plugin_output ~ "(a+)+$"'},
            auth=("reader", PASSWORD),
        ),
    }  # fmt: skip
    if postgres:
        ors = [{"disk": {"$elemMatch": {"Name": f"ada{i}", "KBps read": {"$gt": i}}}}
               for i in range(clauses)]  # fmt: skip
        or_query = orjson.dumps({"$or": ors}).decode()
        kinds[f"$or of {clauses} $elemMatch"] = lambda c: c.get(
            "/api/v1/statistics.list", params={"query": or_query}, auth=("reader", PASSWORD)
        )
    labels = perfdata_labels()
    output = "OK | " + " ".join(f"l{i}={i};1;2;0;{labels}" for i in range(labels))
    body = {"host_name": "perf", "service_description": "perf", "status_code": 0,
            "plugin_output": output}  # fmt: skip
    kinds[f"perfdata x{labels}"] = lambda c: c.post(
        "/api/command/PROCESS_SERVICE_CHECK_RESULT", json=body, auth=("script", PASSWORD)
    )
    return kinds


async def timed(
    send: Callable[[httpx.AsyncClient], Awaitable[httpx.Response]],
    client: httpx.AsyncClient,
    into: Timings,
) -> None:
    started = time.perf_counter()
    try:
        status = (await send(client)).status_code
    except httpx.TimeoutException:
        status = 0  # gave up waiting: the time is the client's timeout
    into.add(time.perf_counter() - started, status)


async def probe(send: Callable[[], Awaitable[httpx.Response]], into: Timings,
                stop: asyncio.Event, pause: float) -> None:  # fmt: skip
    while not stop.is_set():
        started = time.perf_counter()
        try:
            status = (await send()).status_code
        except httpx.TimeoutException:
            status = 0
        into.add(time.perf_counter() - started, status)
        await asyncio.sleep(pause)


async def attack(base: str, token: str, args: argparse.Namespace, postgres: bool) -> dict[str, Any]:
    limits = httpx.Limits(max_connections=200, max_keepalive_connections=200)
    async with (
        httpx.AsyncClient(base_url=base, timeout=args.timeout, limits=limits) as hostile,
        httpx.AsyncClient(base_url=base, timeout=args.timeout) as status_client,
        httpx.AsyncClient(base_url=base, timeout=args.timeout) as ingest_client,
    ):
        await fill(ingest_client, token)
        for user in ("reader", "script"):  # their credentials verified (argon2) before, once
            answer = await hostile.get("/api/v1/me", auth=(user, PASSWORD))
            answer.raise_for_status()
        kinds = {name: send for name, send in hostile_requests(postgres, args.clauses).items()
                 if args.only in name}  # fmt: skip
        per_kind = {name: Timings() for name in kinds}
        status, ingest, stop = Timings(), Timings(), asyncio.Event()
        probes = [
            asyncio.create_task(probe(lambda: status_client.get("/api/4/status"), status, stop,
                                      0.01)),
            asyncio.create_task(probe(lambda: ingest_client.put(
                "/api/external/submit_stats", json=snapshot("probe", 1), auth=("", token)),
                ingest, stop, 0.02)),
        ]  # fmt: skip
        await asyncio.sleep(0.5)  # a baseline before the attack
        started = time.perf_counter()
        every = [(name, send) for name, send in kinds.items() for _ in range(args.copies)]
        for _ in range(args.rounds):  # back to back, so the probes see a longer attack
            await asyncio.gather(*(timed(send, hostile, per_kind[name]) for name, send in every))
        attack_s = time.perf_counter() - started
        stop.set()
        await asyncio.gather(*probes)
    return {
        "attack_s": attack_s,
        "kinds": {name: {"worst_s": max(t.seconds), "median_s": t.quantile(0.5),
                         "statuses": t.statuses} for name, t in per_kind.items()},
        "status": {"p50_s": status.quantile(0.5), "p99_s": status.quantile(0.99),
                   "max_s": max(status.seconds), "n": len(status.seconds),
                   "statuses": status.statuses},
        "submit_stats": {"p50_s": ingest.quantile(0.5), "p99_s": ingest.quantile(0.99),
                         "max_s": max(ingest.seconds), "n": len(ingest.seconds),
                         "statuses": ingest.statuses},
    }  # fmt: skip


def measure(database: str, label: str, args: argparse.Namespace) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="fw-bench-hostile-") as tmp:
        url = database or f"sqlite:///{Path(tmp) / 'fleetwatch.sqlite3'}"
        port = _procs.free_port()
        argv = [str(REPO / ".venv/bin/fleetwatch"), "serve", "--port", str(port), "--data-dir",
                tmp, "--database", url]  # fmt: skip
        server = _procs.spawn(label, argv, port=port, log_path=Path(tmp) / "hub.log")
        try:
            _procs.wait_ready(server)
            token = prepare(url)
            print(f"{label}: attacking with {args.copies} copies of each kind", file=sys.stderr)
            return asyncio.run(attack(f"http://127.0.0.1:{port}", token, args, bool(database)))
        finally:
            _procs.stop(server)


def report(results: dict[str, dict[str, Any]]) -> None:
    rows = []
    for backend, result in results.items():
        for name, kind in result["kinds"].items():
            statuses = ", ".join(
                f"{k or 'timeout'}x{v}" for k, v in sorted(kind["statuses"].items())
            )
            rows.append([backend, name, _report.fmt_s(kind["median_s"]),
                         _report.fmt_s(kind["worst_s"]), statuses])  # fmt: skip
    print(_report.markdown_table(["backend", "hostile request", "median", "worst", "statuses"],
                                 rows))  # fmt: skip
    print()
    rows = []
    for backend, result in results.items():
        for probe_name in ("status", "submit_stats"):
            p = result[probe_name]
            statuses = ", ".join(f"{k or 'timeout'}x{v}" for k, v in sorted(p["statuses"].items()))
            rows.append([backend, probe_name, str(p["n"]), _report.fmt_ms(p["p50_s"] * 1000),
                         _report.fmt_ms(p["p99_s"] * 1000), _report.fmt_ms(p["max_s"] * 1000),
                         statuses])  # fmt: skip
    print(_report.markdown_table(["backend", "probe", "requests", "p50", "p99", "max",
                                  "statuses"], rows))  # fmt: skip
    for backend, result in results.items():
        worst = max(kind["worst_s"] for kind in result["kinds"].values())
        print(f"\n{backend}: worst hostile request {worst:.2f} s; /api/4/status p99 "
              f"{result['status']['p99_s'] * 1000:.1f} ms (target < 50 ms); attack lasted "
              f"{result['attack_s']:.1f} s")  # fmt: skip


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--postgres", default=POSTGRES, help="admin URL of the test server")
    parser.add_argument("--copies", type=int, default=10, help="of each hostile request")
    parser.add_argument(
        "--clauses",
        type=int,
        default=160,
        help="$elemMatch clauses in $or (160: 480 conditions, within the bound)",
    )
    parser.add_argument("--rounds", type=int, default=3, help="attacks, one after the other")
    parser.add_argument("--only", default="", help="run only the kinds whose name has this")
    parser.add_argument("--timeout", type=float, default=90.0, help="client timeout, seconds")
    args = parser.parse_args()
    results: dict[str, dict[str, Any]] = {}
    try:
        for backend in args.backends.split(","):
            if backend == "sqlite":
                results["SQLite"] = measure("", "sqlite", args)
            elif backend == "postgres":
                try:
                    with scratch_database(args.postgres, "fw_bench_hostile") as url:
                        results["PostgreSQL"] = measure(url, "postgres", args)
                except psycopg.errors.ObjectInUse as exc:
                    # A hub whose queries outlive it (JIT compilation ignores cancellation)
                    # leaves sessions the drop cannot end: report, and say so.
                    print(f"warning: scratch database not dropped: {exc}", file=sys.stderr)
    finally:
        _procs.kill_all()
    report(results)
    _report.write_results("hostile_requests", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
