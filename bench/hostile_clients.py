"""Slow-client flood against a real ``fleetwatch serve``: connections held, /api/4/status p99.

One address (127.0.0.2 by default, loopback on Linux) opens N connections and keeps each one
busy as slowly as it can; another address (127.0.0.1) asks ``GET /api/4/status`` ten times a
second meanwhile. Two attacks, as issue #17 found them:

* ``body``: a login (no credential needed) with ``Content-Length: 100000`` and one byte,
  then a byte every few seconds;
* ``headers``: a request line, then one header byte a second, never the blank line;
* ``silent``: not a byte (Granian, choosing HTTP/1 or 2 by the first bytes, waited forever);
* ``h2``: the HTTP/2 preface and settings, then a PING a second, never a request (Granian's
  header deadline is HTTP/1.1's only: the hub's idle look shuts these down).

Reported: connections the attacker still holds open, sampled each second; the longest a
connection stayed open; the prober's p50/p99 and its failures (a probe that gets no answer
within ``--probe-timeout`` counts as that timeout). Bounded: N connections, ``--duration``
seconds, loopback only. Run under ``flock /tmp/fleetwatch-bench.lock`` on the shared machine.

    .venv/bin/python bench/hostile_clients.py --attack body --connections 2100 --duration 40
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import math
import resource
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench import _procs, _report

ATTACKER = "127.0.0.2"
PROBER = "127.0.0.1"
TRICKLE_SECONDS = {"body": 3.0, "headers": 1.0, "silent": 1.0, "h2": 1.0}
H2_PREFACE = b"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n" + bytes.fromhex("000000040000000000")
H2_PING = bytes.fromhex("000008060000000000") + bytes(8)


@dataclass
class Flood:
    open_now: int = 0
    opened: int = 0
    refused: int = 0  # could not connect at all
    answered: dict[int, int] = field(default_factory=dict)  # status -> count
    lifetimes: list[float] = field(default_factory=list)
    samples: list[tuple[float, int]] = field(default_factory=list)


async def _connect(host: str, port: int, source: str) -> tuple[asyncio.StreamReader,
                                                               asyncio.StreamWriter]:  # fmt: skip
    return await asyncio.wait_for(
        asyncio.open_connection(host, port, local_addr=(source, 0)), timeout=5
    )


async def _status_of(reader: asyncio.StreamReader, flood: Flood) -> None:
    line = await reader.readline()
    parts = line.split()
    if len(parts) >= 2 and parts[1].isdigit():
        code = int(parts[1])
        flood.answered[code] = flood.answered.get(code, 0) + 1
    while await reader.read(65536):
        pass


async def one_slow_client(port: int, attack: str, flood: Flood, stop_at: float) -> None:
    try:
        reader, writer = await _connect(PROBER, port, ATTACKER)
    except (OSError, TimeoutError):
        flood.refused += 1
        return
    started = time.monotonic()
    flood.open_now += 1
    flood.opened += 1
    if attack == "body":
        first = b"POST /api/v1/login HTTP/1.1\r\nHost: 127.0.0.1\r\n"
        first += b"Content-Type: application/json\r\nContent-Length: 100000\r\n\r\n{"
        trickle = b" "
    elif attack == "headers":
        first, trickle = b"GET /api/4/status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: ", b"a"
    elif attack == "h2":
        first, trickle = H2_PREFACE, H2_PING
    else:
        first, trickle = b"", b""
    reading = asyncio.create_task(_status_of(reader, flood))
    try:
        writer.write(first)
        while time.monotonic() < stop_at and not reading.done():
            await asyncio.wait({reading}, timeout=TRICKLE_SECONDS[attack])
            if not reading.done() and trickle:
                writer.write(trickle)
                await writer.drain()
    except (OSError, ConnectionError):
        pass
    finally:
        flood.open_now -= 1
        flood.lifetimes.append(time.monotonic() - started)
        reading.cancel()
        writer.close()
        with contextlib.suppress(OSError, ConnectionError):
            await writer.wait_closed()


async def probe(port: int, limit: float) -> float:
    """Seconds one ``GET /api/4/status`` took from a fresh connection; ``limit`` if none."""
    started = time.monotonic()
    try:
        async with asyncio.timeout(limit):
            reader, writer = await asyncio.open_connection(PROBER, port)
            writer.write(b"GET /api/4/status HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         b"Connection: close\r\n\r\n")  # fmt: skip
            status = (await reader.readline()).split()[1]
            await reader.read()
            writer.close()
            if status != b"200":
                return limit
    except (OSError, TimeoutError, IndexError):
        return limit
    return time.monotonic() - started


async def run_flood(port: int, args: argparse.Namespace) -> dict[str, object]:
    flood = Flood()
    began = time.monotonic()
    stop_at = began + args.duration
    clients = []
    for i in range(args.connections):
        clients.append(asyncio.create_task(one_slow_client(port, args.attack, flood, stop_at)))
        if i % 100 == 99:
            await asyncio.sleep(0.05)  # let the kernel's accept queue drain between batches
    latencies: list[float] = []
    next_sample = began
    while time.monotonic() < stop_at:
        latencies.append(await probe(port, args.probe_timeout))
        now = time.monotonic()
        if now >= next_sample:
            flood.samples.append((round(now - began, 1), flood.open_now))
            next_sample = now + 1.0
        await asyncio.sleep(0.1)
    await asyncio.gather(*clients, return_exceptions=True)
    failed = sum(1 for v in latencies if v >= args.probe_timeout)
    ordered = sorted(latencies)
    p99 = ordered[min(len(ordered) - 1, math.ceil(0.99 * len(ordered)) - 1)] if ordered else 0
    return {
        "attack": args.attack,
        "engine": args.engine,
        "connections": args.connections,
        "opened": flood.opened,
        "could_not_connect": flood.refused,
        "answered": flood.answered,
        "held_over_time": flood.samples,
        "longest_held_s": round(max(flood.lifetimes, default=0.0), 1),
        "probes": len(latencies),
        "probe_failures": failed,
        "status_p50_ms": round(_report.median(latencies) * 1000, 1),
        "status_p99_ms": round(p99 * 1000, 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--attack", choices=sorted(TRICKLE_SECONDS), default="body")
    parser.add_argument("--engine", choices=["granian", "uvicorn"], default="granian")
    parser.add_argument("--connections", type=int, default=2100)
    parser.add_argument("--duration", type=float, default=40.0)
    parser.add_argument("--probe-timeout", type=float, default=2.0)
    parser.add_argument("--set", action="append", default=[], metavar="ENV=VALUE",
                        help="extra FLEETWATCH_* settings for the hub")  # fmt: skip
    args = parser.parse_args()
    if not 1 <= args.connections <= 5000 or not 1 <= args.duration <= 300:
        parser.error("--connections 1..5000, --duration 1..300 (a bounded flood)")
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    resource.setrlimit(resource.RLIMIT_NOFILE, (min(hard, max(soft, args.connections + 256)), hard))
    port = _procs.free_port()
    env = {"FLEETWATCH_SERVER_HTTP_ENGINE": args.engine}
    env.update(item.split("=", 1) for item in args.set)
    with tempfile.TemporaryDirectory() as tmp:
        argv = [sys.executable, "-m", "fleetwatch", "serve", "--port", str(port),
                "--data-dir", tmp]  # fmt: skip
        server = _procs.spawn("hub", argv, port=port, log_path=Path(tmp) / "hub.log", env=env)
        try:
            _procs.wait_ready(server)
            result = asyncio.run(run_flood(port, args))
        finally:
            _procs.stop(server)
    print(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
