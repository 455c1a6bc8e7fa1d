"""A hub that holds 10,000 systems (issue 18, part 1), on SQLite and PostgreSQL.

Run: ``.venv/bin/python bench/fleet_scale.py [--systems 10000] [--parts reads,start,idle,push]``

The store is seeded through the store API in bulk (``_fleet_seed``: each system, its token and
two snapshots of the document ``fleetwatch push`` builds here), then a real ``fleetwatch
serve`` process is measured from outside:

- ``start``: seconds from spawning the hub to its first 200 on ``/api/4/status``; beside it,
  the staleness watcher's ``restore()`` timed alone on the same store (multihub's part).
- ``reads``: p50/p99 of every fleet-wide read, default page and deep page, and the whole
  body on request (``count=0``) with and without gzip, one client, sequential requests.
- ``idle``: the hub's CPU (utime+stime from /proc) over ``--idle`` seconds of silence.
- ``push`` (SQLite by default): every system pushing ``submit_stats`` every ``--interval`` s
  with its own token from its own loopback address, gzip-compressed as the agent sends it
  (``fleet_load``'s load generator), hub CPU and push p99, then the same
  with one client polling the whole list (``count=0``, gzip) back to back.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # executed as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx

from bench import _procs, _report
from bench._fleet_seed import add_user, agent_document, seed, system_name
from bench._postgres import scratch_database
from bench.fleet_load import Tally, one_system, request_bytes, source_address
from fleetwatch.api.whole_fleet import WHOLE_SECONDS
from fleetwatch.engine.staleness import StalenessWatcher
from fleetwatch.model.rollup import HOUR, bucket_of
from fleetwatch.store import open_store

REPO = Path(__file__).resolve().parents[1]
USER, PASSWORD = "bench", "bench-password-123"
READS = (
    "/api/v1/systems", "/api/v1/systems?offset=9950", "/api/v1/systems?status=stale",
    "/api/v1/systems?status=up", "/api/v1/systems?name=fleet-0123", "/api/servers/list",
    "/api/4/serverslist",
    "/api/4/serverslist?offset=9950", "/fleet.json",
)  # fmt: skip
WHOLE = ("/api/v1/systems?count=0", "/api/servers/list?count=0", "/api/4/serverslist?count=0",
         "/fleet.json?count=0")  # fmt: skip
TARGET_MS = 150.0


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"p50": statistics.median(ordered),
            "p99": ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))]}  # fmt: skip


def restore_seconds(url: str) -> float:
    async def run() -> float:
        store = open_store(url)
        await store.open()
        try:
            started = time.perf_counter()
            await StalenessWatcher(store).restore()
            return time.perf_counter() - started
        finally:
            await store.close()

    return asyncio.run(run())


def caught_up(url: str, since: float, limit: float = 300.0) -> float:
    """Seconds until the hub's roll-up passes have taken the seeded snapshots (its hour
    watermark past the seeded hour): the start-up catch-up, apart from the idle window."""

    async def run() -> float:
        store = open_store(url)
        await store.open()
        try:
            while time.time() - since < limit:
                done = await store.rollup_watermark(HOUR)
                if done is not None and done >= bucket_of(since, HOUR):
                    return time.time() - since
                await asyncio.sleep(1.0)
            return float("nan")
        finally:
            await store.close()

    return asyncio.run(run())


def first_answer(server: _procs.Server, spawned: float, limit: float = 180.0) -> float:
    while time.perf_counter() - spawned < limit:
        try:
            status, _ = _procs.http_get("127.0.0.1", server.port, "/api/4/status", timeout_s=30)
            if status == 200:
                return time.perf_counter() - spawned
        except OSError:
            pass
        time.sleep(0.02)
    raise RuntimeError(f"no answer in {limit:g} s:\n{server.log_tail()}")


def timed_reads(
    client: httpx.Client, path: str, count: int, gzip: bool, *, spaced: float = 0.0
) -> dict[str, float]:
    headers = {"accept-encoding": "gzip" if gzip else "identity"}
    client.get(path, headers=headers).raise_for_status()  # a first build (/metrics) apart
    times, sizes = [], []
    for _ in range(count):
        time.sleep(spaced + 0.05 if spaced else 0.0)
        started = time.perf_counter()
        with client.stream("GET", path, headers=headers) as response:
            size = sum(len(chunk) for chunk in response.iter_raw())
        times.append(1000 * (time.perf_counter() - started))
        response.raise_for_status()
        sizes.append(size)
    return {**percentiles(times), "bytes": float(statistics.median(sizes))}


def login(port: int) -> dict[str, str]:
    """A login token's headers, signed in before any load (a login is an argon2 hash)."""
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
        answer = client.post("/api/v1/login", json={"user": USER, "password": PASSWORD})
        data = answer.json().get("data")
        if data is None:
            raise RuntimeError(f"login refused: {answer.status_code} {answer.text[:200]}")
        return {"X-User-Id": data["userId"], "X-Auth-Token": data["authToken"]}


def reads(port: int, args: argparse.Namespace) -> dict[str, dict[str, float]]:
    out: dict[str, dict[str, float]] = {}
    with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
        client.headers.update(login(port))
        for path in READS:
            out[path] = timed_reads(client, path, args.requests, gzip=True)
        for path in WHOLE:
            out[path + " gzip"] = timed_reads(client, path, max(5, args.requests // 8), True)
            out[path] = timed_reads(client, path, max(5, args.requests // 8), False)
            # The whole body is kept a second: spaced further apart, each request builds it.
            out[path + " built"] = timed_reads(client, path, 5, False, spaced=WHOLE_SECONDS)
        # Last: the first scrape waits for a build, and scrapes keep rebuilds going.
        started = time.perf_counter()
        client.get("/metrics").raise_for_status()
        out["/metrics (first build)"] = {"p50": 1000 * (time.perf_counter() - started),
                                         "p99": 0.0, "bytes": 0.0}  # fmt: skip
        out["/metrics"] = timed_reads(client, "/metrics", args.requests, gzip=True)
    return out


def idle_share(pid: int, seconds: float) -> float:
    before = _procs.cpu_snapshot(pid)
    time.sleep(seconds)
    usage = _procs.cpu_usage(before, _procs.cpu_snapshot(pid))
    return usage.server_s / usage.wall_s


async def poll_whole(port: int, stop: asyncio.Event, done: list[float],
                     credentials: dict[str, str]) -> None:  # fmt: skip
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=120) as client:
        client.headers.update({**credentials, "accept-encoding": "gzip"})
        while not stop.is_set():
            started = time.perf_counter()
            (await client.get("/api/v1/systems?count=0")).raise_for_status()
            done.append(1000 * (time.perf_counter() - started))


async def push(port: int, pid: int, requests: list[bytes], args: argparse.Namespace,
               poller: bool) -> dict[str, float]:  # fmt: skip
    loop = asyncio.get_running_loop()
    tally = Tally()
    measuring = asyncio.Event()
    until = loop.time() + args.warmup + args.window + args.interval
    spread = args.interval / len(requests)
    tasks = [
        asyncio.create_task(
            one_system(
                port, r, n * spread, args.interval, until, tally, measuring, source_address(n)
            )
        )
        for n, r in enumerate(requests)
    ]
    stop, polls = asyncio.Event(), list[float]()
    polling = (
        asyncio.create_task(poll_whole(port, stop, polls, args.credentials)) if poller else None
    )
    await asyncio.sleep(args.warmup)
    measuring.set()
    before = _procs.cpu_snapshot(pid)
    await asyncio.sleep(args.window)
    usage = _procs.cpu_usage(before, _procs.cpu_snapshot(pid))
    measuring.clear()
    stop.set()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    if polling is not None:
        await polling
    lat = percentiles([1000 * x for x in tally.latencies] or [0.0])
    if tally.reasons:
        print(f"failed pushes by reason: {dict(tally.reasons)}", file=sys.stderr)
    return {"hub_core_share": usage.server_s / usage.wall_s,
            "client_core_share": usage.harness_s / usage.wall_s,
            "pushes_per_s": tally.ok / usage.wall_s, "failed": float(tally.failed),
            "p50_ms": lat["p50"], "p99_ms": lat["p99"], "polls": float(len(polls)),
            "poll_p50_ms": statistics.median(polls) if polls else 0.0}  # fmt: skip


def measure(url: str, label: str, args: argparse.Namespace, parts: set[str]) -> dict[str, Any]:
    started = time.perf_counter()
    # A fleet silent for an hour (its STALE events open): the hub's first roll-up pass takes
    # their snapshots at start, and the idle window sees no work left over from the seeding.
    tokens = seed(url, args.systems, snapshots=2, interval=args.interval, age=args.age)
    add_user(url, USER, PASSWORD, ["readonly"])
    result: dict[str, Any] = {"seed_s": time.perf_counter() - started}
    print(f"{label}: seeded {args.systems} systems in {result['seed_s']:.1f} s", file=sys.stderr)
    if "start" in parts:
        result["restore_s"] = restore_seconds(url)
    with tempfile.TemporaryDirectory() as tmp:
        port = _procs.free_port()
        argv = [str(REPO / ".venv/bin/fleetwatch"), "serve", "--port", str(port), "--data-dir", tmp,
                "--database", url]  # fmt: skip
        spawned, started_at = time.perf_counter(), time.time()
        # Every simulated agent comes from 127.0.0.1: the per-address limit (128) is meant for
        # one client, not for 10,000 machines behind one address.
        env = {"FLEETWATCH_SERVER_MAX_CONNECTIONS": "30000",
               "FLEETWATCH_SERVER_MAX_CONNECTIONS_PER_ADDRESS": "30000"}  # fmt: skip
        server = _procs.spawn(label, argv, port=port, log_path=Path(tmp) / "hub.log", env=env)
        try:
            result["first_answer_s"] = first_answer(server, spawned)
            if "idle" in parts:
                # Before any read: /metrics keeps rebuilding for 5 minutes after a scrape.
                result["catch_up_s"] = caught_up(url, started_at)
                time.sleep(args.settle)  # past the last roll-up writes and retention
                result["idle_core_share"] = idle_share(server.proc.pid, args.idle)
            args.credentials = login(port)
            print(f"{label}: {result}", file=sys.stderr)
            if "push" in parts and (label == "SQLite" or args.push_postgres):
                document = agent_document()
                # Gzip-compressed bodies, as ``fleetwatch push`` sends them.
                requests = [request_bytes(port, system_name(n), token, document, packed=True)
                            for n, token in enumerate(tokens)]  # fmt: skip
                result["push"] = asyncio.run(push(port, server.proc.pid, requests, args, False))
                print(f"{label}: {result['push']}", file=sys.stderr)
                result["push_polled"] = asyncio.run(
                    push(port, server.proc.pid, requests, args, True)
                )
            # Last: a scrape of /metrics keeps its rebuilds going for 5 minutes.
            if "reads" in parts:
                result["reads"] = reads(port, args)
        finally:
            _procs.stop(server)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--systems", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=40)
    parser.add_argument("--idle", type=float, default=120.0)
    parser.add_argument("--settle", type=float, default=10.0)
    parser.add_argument("--age", type=float, default=3600.0)
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=15.0)
    parser.add_argument("--window", type=float, default=45.0)
    parser.add_argument("--parts", default="start,reads,idle,push")
    parser.add_argument("--push-postgres", action="store_true")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    parts = set(args.parts.split(","))
    results: dict[str, dict[str, Any]] = {}
    for backend in args.backends.split(","):
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                url = f"sqlite:///{Path(tmp) / 'fleetwatch.sqlite3'}"
                results["SQLite"] = measure(url, "SQLite", args, parts)
        else:
            with scratch_database(args.postgres, prefix="fw_fleet10k_bench") as url:
                results["PostgreSQL"] = measure(url, "PostgreSQL", args, parts)
    report(results, args)
    _report.write_results("fleet_scale", {"args": vars(args), "results": results})


def report(results: dict[str, dict[str, Any]], args: argparse.Namespace) -> None:
    print(f"\n{args.systems} systems (machine shared with other work)\n")
    for label, r in results.items():
        print(f"{label}: first answer {r['first_answer_s']:.2f} s after start"
              + (f" (staleness restore alone {r['restore_s']:.2f} s)" if "restore_s" in r else "")
              + (f"; roll-up catch-up {r['catch_up_s']:.0f} s" if "catch_up_s" in r else "")
              + (f"; idle hub {r['idle_core_share']:.2%} of a core" if "idle_core_share" in r
                 else ""))  # fmt: skip
        if "reads" in r:
            rows = [[path, f"{v['p50']:.1f}", f"{v['p99']:.1f}", f"{v['bytes'] / 1024:.0f}",
                     "yes" if v["p99"] < TARGET_MS else "no"]
                    for path, v in r["reads"].items()]  # fmt: skip
            print(_report.markdown_table(["read", "p50 ms", "p99 ms", "KiB sent", "< 150 ms"],
                                         rows, "lrrrl"))  # fmt: skip
        for key in ("push", "push_polled"):
            if key in r:
                p = r[key]
                print(
                    f"{key}: {p['pushes_per_s']:.0f} pushes/s, hub {p['hub_core_share']:.1%} of"
                    f" a core, p50 {p['p50_ms']:.1f} / p99 {p['p99_ms']:.1f} ms, failed"
                    f" {p['failed']:.0f}, polls {p['polls']:.0f} (p50 {p['poll_p50_ms']:.0f} ms)"
                )
        print()


if __name__ == "__main__":
    main()
