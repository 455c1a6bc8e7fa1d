"""A simulated fleet: N systems (default 1,000) each pushing submit_stats every 10 s, and the
hub's CPU while it ingests them, on SQLite and PostgreSQL.

Run: ``.venv/bin/python bench/fleet_load.py [--systems 1000] [--interval 10] [--window 60]``

Target (issue 5): the hub process stays under 25 % of one core. The hub's CPU is
``utime+stime`` of its process from ``/proc/<pid>/stat`` over ``--window`` seconds, after a
warm-up in which every system has pushed at least once; the same hub idle (its own collector,
the downsampling and retention jobs, no pushes) is measured first, for comparison.

The load generator is one asyncio task per system in this process, sending a pre-encoded
``PUT`` (the document ``fleetwatch push`` builds on this machine, with the system's own
hostname and token) over a kept-alive connection, reopened whenever the server has closed it
while idle (uvicorn does after 5 s), as real agents would. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gzip
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

if __package__ in (None, ""):  # executed as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import orjson

from bench import _procs, _report
from bench._postgres import scratch_database
from fleetwatch.agent.document import DocumentBuilder
from fleetwatch.auth.admin import Actor, Admin
from fleetwatch.auth.secrets import PasswordHashing
from fleetwatch.store import open_store

REPO = Path(__file__).resolve().parents[1]
TARGET_CORE_SHARE = 0.25


def make_tokens(url: str, count: int) -> list[str]:
    """``count`` systems ``fleet-NNNN`` added to the hub's store; their tokens, in order."""

    async def run() -> list[str]:
        store = open_store(url)
        await store.open()
        try:
            admin = Admin(store, PasswordHashing())
            actor = Actor("bench", "127.0.0.1")
            tokens: list[str] = []
            for start in range(0, count, 100):  # concurrently, so they share group commits
                added = await asyncio.gather(
                    *(
                        admin.add_system(actor, f"fleet-{n:04d}")
                        for n in range(start, min(count, start + 100))
                    )
                )
                tokens += [token for _, token in added]
            return tokens
        finally:
            await store.close()

    return asyncio.run(run())


def request_bytes(
    port: int, hostname: str, token: str, document: dict[str, object], *, packed: bool = False
) -> bytes:
    """The whole request; ``packed``: the body gzip-compressed, as ``fleetwatch push`` sends it."""
    body = orjson.dumps({**document, "hostname": hostname})
    encoding = ""
    if packed:
        body = gzip.compress(body, compresslevel=6, mtime=0)
        encoding = "Content-Encoding: gzip\r\n"
    auth = base64.b64encode(f":{token}".encode()).decode()
    head = (
        f"PUT /api/external/submit_stats HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\n"
        f"Authorization: Basic {auth}\r\nContent-Type: application/json\r\n{encoding}"
        f"Content-Length: {len(body)}\r\n\r\n"
    )
    return head.encode() + body


@dataclass
class Tally:
    ok: int = 0
    failed: int = 0
    # Why they failed: the status answered, or "connection" (closed or refused twice).
    reasons: Counter[str] = field(default_factory=Counter)
    connects: int = 0
    latencies: list[float] = field(default_factory=list)


async def read_response(reader: asyncio.StreamReader) -> tuple[int, bytes]:
    head = await reader.readuntil(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    length = 0
    for line in head.split(b"\r\n"):
        if line[:15].lower() == b"content-length:":
            length = int(line[15:])
    return status, await reader.readexactly(length)


def source_address(n: int) -> str:
    """System ``n``'s own loopback address (127.1.0.1, 127.1.0.2, ...): a fleet's machines each
    come from their own, and the hub's limits per address treat them so."""
    return f"127.{1 + n // 62_500}.{n // 250 % 250}.{n % 250 + 1}"


async def one_system(
    port: int, request: bytes, offset: float, interval: float, until: float, tally: Tally,
    measuring: asyncio.Event, source: str | None = None,
) -> None:  # fmt: skip
    loop = asyncio.get_running_loop()
    reader: asyncio.StreamReader | None = None
    writer: asyncio.StreamWriter | None = None
    next_at = loop.time() + offset
    while next_at < until:
        await asyncio.sleep(max(0.0, next_at - loop.time()))
        next_at += interval
        for attempt in (1, 2):  # a second try when the hub closed the idle connection
            try:
                if reader is None or writer is None or reader.at_eof():
                    if writer is not None:
                        writer.close()
                    reader, writer = await asyncio.open_connection(
                        "127.0.0.1", port, local_addr=(source, 0) if source else None
                    )
                    tally.connects += 1
                started = loop.time()
                writer.write(request)
                status, body = await read_response(reader)
            except (OSError, asyncio.IncompleteReadError):
                reader = writer = None
                if attempt == 2 and measuring.is_set():
                    tally.failed += 1
                    tally.reasons["connection"] += 1
                continue
            if measuring.is_set():
                tally.latencies.append(loop.time() - started)
                if status == 200:
                    tally.ok += 1
                else:
                    tally.failed += 1
                    tally.reasons[f"{status} {body[:70].decode(errors='replace')}"] += 1
            break
    if writer is not None:
        writer.close()


async def drive(port: int, requests: list[bytes], interval: float, warmup: float,
                window: float, pid: int) -> dict[str, float]:  # fmt: skip
    loop = asyncio.get_running_loop()
    tally = Tally()
    measuring = asyncio.Event()
    until = loop.time() + warmup + window + interval
    spread = interval / len(requests)
    tasks = [
        asyncio.create_task(one_system(port, r, n * spread, interval, until, tally, measuring))
        for n, r in enumerate(requests)
    ]
    await asyncio.sleep(warmup)
    measuring.set()
    before, stat_before = _procs.cpu_snapshot(pid), _procs.read_stat(pid)
    await asyncio.sleep(window)
    after, stat_after = _procs.cpu_snapshot(pid), _procs.read_stat(pid)
    measuring.clear()
    for task in tasks:
        task.cancel()
    await asyncio.gather(*tasks, return_exceptions=True)
    usage = _procs.cpu_usage(before, after)
    lat = sorted(tally.latencies) or [0.0]
    assert stat_before is not None
    assert stat_after is not None
    kernel_s = (stat_after.stime - stat_before.stime) / _procs.CLK_TCK
    return {
        "hub_core_share": usage.server_s / usage.wall_s,
        "hub_kernel_share": kernel_s / usage.wall_s,
        "client_core_share": usage.harness_s / usage.wall_s,
        "other_cores": usage.other_cores,
        "pushes_per_s": tally.ok / usage.wall_s,
        "failed": float(tally.failed),
        "p50_ms": 1000 * statistics.median(lat),
        "p99_ms": 1000 * lat[min(len(lat) - 1, int(0.99 * len(lat)))],
    }


def idle_share(pid: int, seconds: float) -> float:
    before = _procs.cpu_snapshot(pid)
    time.sleep(seconds)
    usage = _procs.cpu_usage(before, _procs.cpu_snapshot(pid))
    return usage.server_s / usage.wall_s


def _start_profile(
    folder: str, label: str, pid: int, args: argparse.Namespace
) -> subprocess.Popen[bytes] | None:
    """py-spy over the measured window (it runs beside the hub, so the hub's own CPU is
    unchanged); its collapsed stacks go to ``folder``."""
    if not folder:
        return None
    Path(folder).mkdir(parents=True, exist_ok=True)
    out = Path(folder) / f"fleet_load-{label.lower()}.txt"
    argv = [str(REPO / ".venv/bin/py-spy"), "record", "-p", str(pid), "-d", str(int(args.window)),
            "-r", "200", "--format", "raw", "--nonblocking", "--gil", "-o", str(out)]  # fmt: skip
    return subprocess.Popen(["sh", "-c", f'sleep {args.warmup}; exec "$@"', "-", *argv])


def measure(database: str, label: str, args: argparse.Namespace) -> dict[str, float]:
    document = DocumentBuilder().build()
    # A healthy fleet: this machine's CPU at build time may be anything, and a fleet in alarm
    # costs an event update with every snapshot (that is measured with --busy).
    busy = {"user": 85.0, "system": 10.0, "idle": 5.0} if args.busy else None
    calm = {"user": 12.0, "system": 3.0, "idle": 85.0}
    document["cpu"] = [dict(busy or calm) for _ in document["cpu"]]
    with tempfile.TemporaryDirectory() as tmp:
        url = database or f"sqlite:///{Path(tmp) / 'fleetwatch.sqlite3'}"
        port = _procs.free_port()
        argv = [str(REPO / ".venv/bin/fleetwatch"), "serve", "--port", str(port), "--data-dir", tmp,
                "--database", url]  # fmt: skip
        server = _procs.spawn(label, argv, port=port, log_path=Path(tmp) / "hub.log")
        try:
            _procs.wait_ready(server)
            tokens = make_tokens(url, args.systems)
            requests = [
                request_bytes(port, f"fleet-{n:04d}", token, document)
                for n, token in enumerate(tokens)
            ]
            time.sleep(args.settle)  # past the start-up work (first collections, imports)
            idle = idle_share(server.proc.pid, args.idle)
            print(f"{label}: idle hub {idle:.1%} of a core; pushing...", file=sys.stderr)
            spy = _start_profile(args.profile, label, server.proc.pid, args)
            result = asyncio.run(drive(port, requests, args.interval, args.warmup, args.window,
                                       server.proc.pid))  # fmt: skip
            if spy is not None:
                spy.wait(timeout=args.window + 60)
        finally:
            _procs.stop(server)
    return {"idle_core_share": idle, **result, "body_bytes": float(len(requests[0]))}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--systems", type=int, default=1000)
    parser.add_argument("--interval", type=float, default=10.0)
    parser.add_argument("--warmup", type=float, default=20.0)
    parser.add_argument("--window", type=float, default=60.0)
    parser.add_argument("--idle", type=float, default=20.0)
    parser.add_argument("--settle", type=float, default=10.0)
    parser.add_argument("--busy", action="store_true", help="every system's CPU at 95 %")
    parser.add_argument("--profile", default="", help="folder for py-spy's collapsed stacks")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    rows, results = [], {}
    for backend in args.backends.split(","):
        label = "SQLite" if backend == "sqlite" else "PostgreSQL"
        if backend == "sqlite":
            r = measure("", label, args)
        else:
            with scratch_database(args.postgres) as pg_url:
                r = measure(pg_url, label, args)
        results[label] = r
        verdict = "PASS" if r["hub_core_share"] < TARGET_CORE_SHARE and not r["failed"] else "FAIL"
        hub = f"{r['hub_core_share']:.1%} ({r['hub_kernel_share']:.1%} sys)"
        rows.append([label, f"{r['pushes_per_s']:.1f}", hub,
                     f"{r['idle_core_share']:.1%}", f"{r['client_core_share']:.1%}",
                     f"{r['p50_ms']:.1f} / {r['p99_ms']:.1f} ms", f"{r['failed']:.0f}",
                     verdict])  # fmt: skip
    headers = ["backend", "pushes/s", "hub CPU (one core)", "hub idle", "load generator",
               "p50 / p99", "failed", "< 25 %"]  # fmt: skip
    print(f"{args.systems} systems every {args.interval:g} s, {args.window:g} s window:\n")
    print(_report.markdown_table(headers, rows, "lrrrrrrl"))
    _report.write_results("fleet_load", {"args": vars(args), "results": results})


if __name__ == "__main__":
    main()
