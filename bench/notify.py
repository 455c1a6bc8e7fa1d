"""Notifications under load: event-to-receiver latency, and a storm's cost to ingestion.

Run: ``.venv/bin/python bench/notify.py [--events 100] [--duration 20] [--storm-per-minute
10000] [--channels 3] [--connections 50]`` (under ``flock /tmp/fleetwatch-bench.lock`` on a
shared machine).

1. Latency: a hub on SQLite with default settings, a webhook channel to a receiver in this
   process on loopback, and passive results that change a service's hard state at a steady
   pace: the time from the result's acknowledgement to the webhook's arrival, p50 and p99.
   Target: p99 < 2 s.
2. Storm: ``submit_stats`` throughput (wrk, as in ``bench/ingest.py``) while passive results
   make ``--storm-per-minute`` events a minute; once with no rule (the events are made and
   stored, nothing is sent), once fanned out by a rule to ``--channels`` webhook channels.
   Target: the second within 10 % of the first.

Everything runs on this machine, on loopback: the hub, wrk, the storm's client and the
receiver share its cores, so the figures say as much about the machine as about the hub.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

if __package__ in (None, ""):  # executed as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import orjson

from bench import _procs, _report, _wrk
from bench._postgres import scratch_database
from bench.ingest import BODY, LUA, wrk_lua
from fleetwatch.auth.admin import Actor, Admin
from fleetwatch.auth.secrets import PasswordHashing
from fleetwatch.engine.notify.manage import NotifyAdmin
from fleetwatch.store import open_store

REPO = Path(__file__).resolve().parents[1]
USER, PASSWORD = "bench", "bench password"
WORKER = ["process"]  # notify.worker of the hubs started (--worker)


class Receiver:
    """Counts webhook POSTs and, for those carrying a ``sent_at`` marker, when they came."""

    def __init__(self) -> None:
        self.count = 0
        self.arrivals: dict[str, float] = {}
        lock = threading.Lock()
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                now = time.time()
                service = orjson.loads(body)["event"].get("service") or ""
                with lock:
                    receiver.count += 1
                    receiver.arrivals.setdefault(service, now)
                self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.port = self.server.server_address[1]
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def prepare(url: str, receiver: Receiver, channels: int) -> str:
    """A user, a system token, and ``channels`` webhook channels (no rule yet)."""

    async def run() -> str:
        store = open_store(url)
        await store.open()
        try:
            admin = Admin(store, PasswordHashing())
            actor = Actor("bench", "127.0.0.1")
            _, token = await admin.add_system(actor, "bench")
            await admin.add_user(actor, USER, PASSWORD, ["admin"])
            notify = NotifyAdmin(store)
            for number in range(channels):
                hook = f"webhook+http://127.0.0.1:{receiver.port}/hook{number}"
                await notify.add_channel(actor, f"hook{number}", hook)
            return token
        finally:
            await store.close()

    return asyncio.run(run())


def add_rule(url: str, channels: int) -> None:
    async def run() -> None:
        store = open_store(url)
        await store.open()
        try:
            names = [f"hook{n}" for n in range(channels)]
            await NotifyAdmin(store).add_rule(Actor("bench", "127.0.0.1"),
                                              {"name": "storm", "channels": names})  # fmt: skip
        finally:
            await store.close()

    asyncio.run(run())


def start_hub(
    tmp: str, database: str = "", *, deliver: bool = True, name: str = "hub"
) -> tuple[_procs.Server, str]:
    url = database or f"sqlite:///{Path(tmp) / 'fleetwatch.sqlite3'}"
    port = _procs.free_port()
    data_dir = Path(tmp) / name
    argv = [str(REPO / ".venv/bin/fleetwatch"), "serve", "--port", str(port), "--data-dir",
            str(data_dir), "--database", url]  # fmt: skip
    env = {"FLEETWATCH_CHECKS_AUTO_CREATE": "true",
           "FLEETWATCH_NOTIFY_ENABLED": "true" if deliver else "false",
           "FLEETWATCH_NOTIFY_WORKER": WORKER[0],
           # wrk and the storm's client both come from 127.0.0.1: more than one client's share.
           "FLEETWATCH_SERVER_MAX_CONNECTIONS_PER_ADDRESS": "1000"}  # fmt: skip
    server = _procs.spawn(name, argv, port=port, log_path=data_dir / "hub.log", env=env)
    _procs.wait_ready(server)
    return server, url


async def results(base: str, count: int, per_second: float, prefix: str) -> dict[str, float]:
    """``count`` results, each a hard state change of its own service, at ``per_second``;
    returns when each was acknowledged, by service."""
    acknowledged: dict[str, float] = {}
    async with httpx.AsyncClient(base_url=base, auth=(USER, PASSWORD), timeout=30) as client:

        async def one(number: int) -> None:
            service = f"{prefix}{number % 100}"
            code = 2 if (number // 100) % 2 == 0 else 0  # CRITICAL, then OK, then CRITICAL...
            body = {"host_name": "bench", "service_description": service,
                    "status_code": code, "plugin_output": f"result {number}"}  # fmt: skip
            answer = await client.post("/api/command/PROCESS_SERVICE_CHECK_RESULT", json=body)
            if answer.status_code == 200:
                acknowledged[f"{service}#{number}"] = time.time()

        start = time.monotonic()
        tasks = []
        for number in range(count):
            await asyncio.sleep(max(0.0, start + number / per_second - time.monotonic()))
            tasks.append(asyncio.create_task(one(number)))
        await asyncio.gather(*tasks)
    return acknowledged


def latency(args: argparse.Namespace) -> dict[str, float]:
    receiver = Receiver()
    with tempfile.TemporaryDirectory() as tmp:
        server, url = start_hub(tmp)
        try:
            prepare(url, receiver, 1)
            add_rule(url, 1)
            lags = []
            base = f"http://127.0.0.1:{server.port}"
            for number in range(args.events):
                service = f"lat{number}"
                sent = asyncio.run(results_one(base, service))
                deadline = time.time() + 30
                while service not in receiver.arrivals and time.time() < deadline:
                    time.sleep(0.005)
                lags.append(receiver.arrivals.get(service, float("inf")) - sent)
        finally:
            _procs.stop(server)
            receiver.close()
    lags.sort()
    return {"p50_s": statistics.median(lags), "p99_s": lags[int(0.99 * (len(lags) - 1))],
            "max_s": lags[-1], "events": float(len(lags))}  # fmt: skip


async def results_one(base: str, service: str) -> float:
    async with httpx.AsyncClient(base_url=base, auth=(USER, PASSWORD), timeout=30) as client:
        body = {"host_name": "bench", "service_description": service, "status_code": 2,
                "plugin_output": "CRITICAL: bench"}  # fmt: skip
        answer = await client.post("/api/command/PROCESS_SERVICE_CHECK_RESULT", json=body)
        assert answer.status_code == 200, answer.text
        return time.time()


def storm(args: argparse.Namespace, notify: bool) -> dict[str, float]:
    receiver = Receiver()
    with contextlib.ExitStack() as stack:
        tmp = stack.enter_context(tempfile.TemporaryDirectory())
        database = stack.enter_context(scratch_database(args.postgres)) if args.split else ""
        # --split: the hub that ingests does not deliver; a second hub on the same PostgreSQL
        # database does (started only when there is something to deliver).
        full = None
        server, url = start_hub(tmp, database, deliver=not args.split)
        if args.split and notify:
            stack.callback(_procs.stop, start_hub(tmp, database, name="deliverer")[0])
        try:
            token = prepare(url, receiver, args.channels)
            if notify:
                add_rule(url, args.channels)
            base = f"http://127.0.0.1:{server.port}"
            auth = _wrk.basic_auth_header(f":{token}").removeprefix("Authorization: ")
            per_second = args.storm_per_minute / 60
            count = int(per_second * args.duration)
            storm_thread = threading.Thread(
                target=lambda: asyncio.run(results(base, count, per_second, "storm"))
            )
            storm_thread.start()
            full = wrk_lua(base + "/api/external/submit_stats",
                           LUA.format(body=BODY, auth=auth, delay=""), args.connections,
                           args.duration)  # fmt: skip
            storm_thread.join()
            expected = count * args.channels if notify else 0
            drained_at = time.monotonic()
            while receiver.count < expected and time.monotonic() < drained_at + 120:
                time.sleep(0.05)
            drain_s = time.monotonic() - drained_at
        finally:
            _procs.stop(server)
            receiver.close()
            if full is not None and not full.clean:  # why: the hub's last words
                log = Path(tmp) / "hub" / "hub.log"
                print("\n".join(log.read_text().splitlines()[-30:]), file=sys.stderr)
    if not full.clean:
        raise SystemExit(f"submit_stats: {full.non_2xx_3xx} non-2xx answers; nothing measured")
    return {"accepted_per_s": full.requests_per_s, "p99_ms": full.p99_ms,
            "events": float(count), "messages": float(receiver.count),
            "expected": float(expected), "drain_s": drain_s}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100, help="latency samples")
    parser.add_argument("--duration", type=float, default=20.0, help="seconds of each storm")
    parser.add_argument("--storm-per-minute", type=float, default=10_000)
    parser.add_argument("--channels", type=int, default=3)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=1, help="storm pairs; medians reported")
    parser.add_argument(
        "--split",
        action="store_true",
        help="storms on PostgreSQL, delivery in a second hub process",
    )
    parser.add_argument("--worker", choices=["process", "inline"], default="process",
                        help="notify.worker of the hub: a child process, or inline")  # fmt: skip
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    WORKER[0] = args.worker
    _wrk.ensure_wrk()
    print("latency ...", file=sys.stderr)
    lat = latency(args)
    pairs = []
    for n in range(args.rounds):
        print(f"storm round {n + 1}/{args.rounds} ...", file=sys.stderr)
        pairs.append((storm(args, notify=False), storm(args, notify=True)))
    for n, (without, with_) in enumerate(pairs, start=1):
        print(f"round {n}: {without['accepted_per_s']:,.0f}/s without, "
              f"{with_['accepted_per_s']:,.0f}/s with: ratio "
              f"{with_['accepted_per_s'] / without['accepted_per_s']:.2f}, messages "
              f"{with_['messages']:,.0f} / {with_['expected']:,.0f}, drained after "
              f"{with_['drain_s']:.1f} s", file=sys.stderr)  # fmt: skip
    off = {k: _report.median(p[0][k] for p in pairs) for k in pairs[0][0]}
    on = {k: _report.median(p[1][k] for p in pairs) for k in pairs[0][1]}
    ratio = on["accepted_per_s"] / off["accepted_per_s"]
    print(f"\nEvent to a loopback webhook, default settings, {lat['events']:.0f} events: "
          f"p50 {lat['p50_s'] * 1000:.0f} ms, p99 {lat['p99_s'] * 1000:.0f} ms, "
          f"max {lat['max_s'] * 1000:.0f} ms (target p99 < 2 s)\n")  # fmt: skip
    rows = [
        [name, f"{r['accepted_per_s']:,.0f}", f"{r['p99_ms']:.1f} ms", f"{r['events']:,.0f}",
         f"{r['messages']:,.0f} / {r['expected']:,.0f}", f"{r['drain_s']:.1f} s"]
        for name, r in (("no rule", off), (f"rule to {args.channels} channels", on))
    ]  # fmt: skip
    where = ("PostgreSQL, delivery in a second hub" if args.split
             else f"SQLite, one hub, notify.worker = {args.worker}")  # fmt: skip
    print(
        f"{where}: submit_stats during a storm of {args.storm_per_minute:,.0f} events a minute, "
        f"{args.duration:g} s, {args.connections} connections, medians of {args.rounds}:\n"
    )
    print(
        _report.markdown_table(
            ["notifications", "accepted/s", "p99", "events", "messages received", "drained after"],
            rows,
            "lrrrrr",
        )
    )
    print(f"\nratio with / without: {ratio:.2f} (target >= 0.90)")
    _report.write_results("notify", {"args": vars(args), "latency": lat, "off": off, "on": on,
                                     "ratio": ratio})  # fmt: skip


if __name__ == "__main__":
    main()
