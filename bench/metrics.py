"""``GET /metrics`` with a fleet of N systems (default 1,000): scrape latency, cold and cached.

Run: ``flock /tmp/fleetwatch-bench.lock .venv/bin/python bench/metrics.py [--systems 1000]``

Target (issue 16): 1,000 systems answer in < 100 ms at the 99th percentile. A real
``fleetwatch serve`` (SQLite) gets N systems, each with one snapshot pushed through
``submit_stats`` (the document ``fleetwatch push`` builds on this machine), and ``--services``
passive services; then a client scrapes ``/metrics`` with a bearer token, ``--scrapes`` times
in each format, one request at a time over a kept-alive connection, as Prometheus does. The
first scrape (which waits for the first rendering) is reported apart; the hub's background
re-renderings (every ``--refresh`` seconds: 1 by default, so that many land inside the run)
are part of what the measured scrapes compete with. Loopback only; the machine is shared, so the
figures are noisy: compare medians.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # executed as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import orjson

from bench import _procs, _report
from bench.fleet_load import make_tokens
from fleetwatch.agent.document import DocumentBuilder
from fleetwatch.auth.admin import Actor, Admin
from fleetwatch.auth.secrets import PasswordHashing
from fleetwatch.store import open_store

REPO = Path(__file__).resolve().parents[1]
TARGET_P99_MS = 100.0
OPENMETRICS = "application/openmetrics-text; version=1.0.0"


def reader_token(url: str, services: int) -> str:
    """A ``readonly`` user's token, and ``services`` passive services, added to the store."""

    async def run() -> str:
        store = open_store(url)
        await store.open()
        try:
            admin = Admin(store, PasswordHashing())
            actor = Actor("bench", "127.0.0.1")
            await admin.add_user(actor, "scraper", "scraper password", ["readonly"])
            for n in range(0, services, 10):
                await store.add_check_object("host", f"host-{n // 10:04d}")
                for s in range(n, min(services, n + 10)):
                    await store.add_check_object("service", f"host-{n // 10:04d}", f"svc-{s}")
            return await admin.user_token(actor, "scraper", "bench")
        finally:
            await store.close()

    return asyncio.run(run())


async def push_all(base: str, tokens: list[str]) -> None:
    document = DocumentBuilder().build()
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        for start in range(0, len(tokens), 50):
            batch = tokens[start : start + 50]
            answers = await asyncio.gather(*(
                client.put("/api/external/submit_stats", auth=("", token),
                           content=orjson.dumps({**document, "hostname": f"fleet-{start + i:04d}"}))
                for i, token in enumerate(batch)
            ))  # fmt: skip
            assert all(a.status_code == 200 for a in answers), answers[0].text


def scrape(base: str, token: str, count: int, accept: str | None) -> tuple[float, list[float], int]:
    headers = {"authorization": f"Bearer {token}"}
    if accept:
        headers["accept"] = accept
    with httpx.Client(base_url=base, headers=headers, timeout=30) as client:
        started = time.perf_counter()
        first = client.get("/metrics")
        cold = (time.perf_counter() - started) * 1000
        assert first.status_code == 200, first.text
        times = []
        for _ in range(count):
            started = time.perf_counter()
            answer = client.get("/metrics")
            times.append((time.perf_counter() - started) * 1000)
            assert answer.status_code == 200
        return cold, times, len(first.content)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--systems", type=int, default=1000)
    parser.add_argument("--services", type=int, default=1000)
    parser.add_argument("--scrapes", type=int, default=300)
    parser.add_argument(
        "--refresh",
        type=float,
        default=1.0,
        help="metrics.refresh_seconds of the hub (default 1; the hub's own is 5)",
    )
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'fleetwatch.sqlite3'}"
        port = _procs.free_port()
        argv = [str(REPO / ".venv/bin/fleetwatch"), "serve", "--port", str(port), "--data-dir", tmp]
        env = {"FLEETWATCH_METRICS_REFRESH_SECONDS": str(args.refresh)}
        server = _procs.spawn("hub", argv, port=port, log_path=Path(tmp) / "hub.log", env=env)
        try:
            _procs.wait_ready(server)
            base = f"http://127.0.0.1:{port}"
            tokens = make_tokens(url, args.systems)
            asyncio.run(push_all(base, tokens))
            token = reader_token(url, args.services)
            rows = []
            for label, accept in (("text 0.0.4", None), ("OpenMetrics", OPENMETRICS)):
                cold, times, size = scrape(base, token, args.scrapes, accept)
                p50, p99 = statistics.median(times), percentile(times, 0.99)
                verdict = "PASS" if p99 < TARGET_P99_MS else "FAIL"
                rows.append([label, f"{size / 1024:,.0f} KiB", _report.fmt_ms(cold),
                             _report.fmt_ms(p50), _report.fmt_ms(p99),
                             _report.fmt_ms(max(times)), verdict])  # fmt: skip
        finally:
            _procs.stop(server)
    print(
        f"{args.systems} systems, {args.services} services, {args.scrapes} scrapes each, "
        f"re-rendered every {args.refresh:g} s:\n"
    )
    headers = ["format", "body", "first scrape", "p50", "p99", "max", "p99 < 100 ms"]
    print(_report.markdown_table(headers, rows, "llrrrrl"))


if __name__ == "__main__":
    main()
