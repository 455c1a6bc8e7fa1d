"""The query API on a store of 1,000,000 snapshots from 1,000 systems, SQLite and PostgreSQL.

Run: ``.venv/bin/python bench/query.py [--requests 300] [--refill]``

Fills a SQLite file and a PostgreSQL database once (kept under /tmp and in ``fw_bench_query``
for later runs; ``--refill`` rebuilds them), through the real migrations, then starts a real
``fleetwatch serve`` on each and measures, one request at a time over a kept-alive connection:

* ``query={"system": "host-N"}``, ``sort={"createdAt": -1}``, ``count=50`` (N random): p99 < 20 ms;
* the same with ``{"hostname": "host-N"}`` (PostgreSQL: through the hostname's system, 0018);
* ``query={"summary.cpu_percent": {"$gt": 90}}``, ``count=50``: p99 < 50 ms;
* what ``total`` costs (exact up to 10,000, estimated above: never a 1M-row count);
* ``count=0`` over all 1M rows, streamed: the hub's RSS stays under 150 MiB.

Each snapshot's document is a realistic submit_stats body (~600 bytes); its normalised form is
left small, since the list endpoints never read it. The hub runs with retention off, so the
kept store is not pruned under the measurement. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import sqlite3
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # executed as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import httpx
import orjson
import psycopg

from bench import _procs, _report
from fleetwatch.auth.admin import Actor, Admin
from fleetwatch.auth.secrets import PasswordHashing
from fleetwatch.store import open_store
from fleetwatch.store.packing import pack, register_packing_functions
from fleetwatch.store.pg_snapshots import FIGURE_COLUMNS

REPO = Path(__file__).resolve().parents[1]
SYSTEMS, PER_SYSTEM = 1_000, 1_000
SQLITE_PATH = Path(tempfile.gettempdir()) / "fleetwatch-bench-query" / "fleetwatch.sqlite3"
SQLITE_PATH = Path(os.environ.get("FLEETWATCH_BENCH_QUERY_SQLITE", SQLITE_PATH))
PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
PG_NAME = "fw_bench_query"
PASSWORD = "bench password"
SPAN = 60.0 * PER_SYSTEM  # one snapshot per system per minute


def _rows(rng: random.Random, t0: float) -> Any:
    """(system_id, created_at, document, normalized, hostname, summary) for every snapshot."""
    for n in range(PER_SYSTEM):
        for system in range(1, SYSTEMS + 1):
            cpu = rng.uniform(0, 100)
            mem = rng.uniform(5, 95)
            host = f"host-{system - 1}"
            document = {
                "hostname": host, "version": "TrueNAS-13.0-U6", "uptime_seconds": 3600 * n,
                "cpu": [{"user": cpu * 0.7, "system": cpu * 0.3, "idle": 100 - cpu}] * 4,
                "memory": {"active-bytes": int(mem * 1e8), "free-bytes": int((100 - mem) * 1e8)},
                "storage": {"total-bytes": 4_000_000_000_000, "used-bytes": 1_523_000_000_000},
                "network": [{"name": "em0", "KB/s in": rng.uniform(0, 900), "KB/s out": 12.5}],
                "disk": [{"Name": "ada0", "KBps read": 60, "KBps write": 20}],
                "cpu_temperatures": [41.0, 43.5], "timezone": "UTC", "model": "X11SSH",
            }  # fmt: skip
            summary = {"cpu_percent": round(cpu, 1), "mem_percent": round(mem, 1),
                       "swap_percent": 0.0, "storage_percent": 38.1, "load1": round(cpu / 25, 2),
                       "cpu_num": 4, "memory_bytes": 10_000_000_000}  # fmt: skip
            normalized = orjson.dumps({"cpu": {"total": round(cpu, 1)}}).decode()
            created = t0 + 60.0 * n + system * 0.01
            yield (system, created, orjson.dumps(document).decode(), normalized, host,
                   orjson.dumps(summary).decode())  # fmt: skip


def _migrate(url: str) -> None:
    async def run() -> None:
        store = open_store(url)
        await store.open()
        await store.close()

    asyncio.run(run())


def _systems_sql(ph: str, t0: float) -> tuple[str, list[tuple[object, ...]]]:
    sql = f"INSERT INTO systems (name, hostname, source, created_at, last_seen) VALUES ({ph})"
    rows: list[tuple[object, ...]] = [
        (f"host-{n}", f"host-{n}", "push", t0, t0 + SPAN) for n in range(SYSTEMS)
    ]
    return sql, rows


def fill_sqlite(refill: bool) -> str:
    url = f"sqlite:///{SQLITE_PATH}"
    if SQLITE_PATH.exists() and not refill:
        return url
    SQLITE_PATH.parent.mkdir(parents=True, exist_ok=True)
    for suffix in ("", "-wal", "-shm"):
        Path(str(SQLITE_PATH) + suffix).unlink(missing_ok=True)
    _migrate(url)
    conn = sqlite3.connect(SQLITE_PATH)
    conn.execute("PRAGMA synchronous = OFF")
    t0 = time.time() - SPAN
    sql, rows = _systems_sql("?, ?, ?, ?, ?", t0)
    conn.executemany(sql, rows)
    # Snapshots are stored packed (migration 0011): the packing functions pack them here; the
    # hostname is generated from the document, where it is the same.
    register_packing_functions(conn)
    insert = ("INSERT INTO snapshots (system_id, created_at, document_z, normalized_z, summary_z,"
              " source) VALUES (?, ?, fw_pack(?), fw_pack(?), fw_pack(?), 'push')")  # fmt: skip
    batch: list[Any] = []
    for system, created, document, normalized, _, summary in _rows(random.Random(42), t0):
        batch.append((system, created, document, normalized, summary))
        if len(batch) == 50_000:
            conn.executemany(insert, batch)
            conn.commit()
            batch.clear()
    conn.executemany(insert, batch)
    conn.commit()
    conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    conn.close()
    return url


def fill_postgres(refill: bool) -> str:
    url = PG_ADMIN.rsplit("/", 1)[0] + f"/{PG_NAME}"
    with psycopg.connect(PG_ADMIN, autocommit=True) as admin:
        exists = admin.execute(
            "SELECT 1 FROM pg_database WHERE datname = %s", (PG_NAME,)
        ).fetchone()
        if exists and not refill:
            return url
        admin.execute(f'DROP DATABASE IF EXISTS "{PG_NAME}" WITH (FORCE)')
        admin.execute(f'CREATE DATABASE "{PG_NAME}"')
    _migrate(url)
    with psycopg.connect(url) as conn:
        t0 = time.time() - SPAN
        sql, rows = _systems_sql("%s, %s, %s, %s, %s", t0)
        conn.cursor().executemany(sql, rows)
        # Packed as the hub stores them (migration 0015): the frames, the hostname and the
        # indexed summary figures in columns of their own.
        copy = ("COPY snapshots (system_id, created_at, cpu_percent, mem_percent,"
                " storage_percent, load1, source, hostname, document_z, normalized_z, summary_z)"
                " FROM STDIN")  # fmt: skip
        with conn.cursor().copy(copy) as writer:
            for system, created, document, normalized, host, summary in _rows(
                random.Random(42), t0
            ):
                figures = orjson.loads(summary)
                # No summary: since migration 0018 the hub derives it when read.
                writer.write_row((
                    system, created, *(figures.get(name) for name in FIGURE_COLUMNS), "push",
                    host, pack(document), pack(normalized), b"",
                ))  # fmt: skip
        # The systems each hostname came from, as the hub records them with each first
        # snapshot of a pair (migration 0018).
        conn.execute(
            "INSERT INTO snapshot_hostnames (hostname, system_id)"
            " SELECT DISTINCT hostname, system_id FROM snapshots"
        )
    with psycopg.connect(url, autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")  # what autovacuum does on its own after a bulk load
    return url


def _user(url: str) -> None:
    async def run() -> None:
        store = open_store(url)
        await store.open()
        try:
            if await store.get_user("bench") is None:
                await Admin(store, PasswordHashing()).add_user(
                    Actor("bench", "127.0.0.1"), "bench", PASSWORD, ["readonly"]
                )
        finally:
            await store.close()

    asyncio.run(run())


def _timed(client: httpx.Client, params: dict[str, str]) -> tuple[float, dict[str, Any]]:
    start = time.perf_counter()
    response = client.get("/api/v1/statistics.list", params=params)
    elapsed = (time.perf_counter() - start) * 1000
    response.raise_for_status()
    return elapsed, response.json()


def _percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    return {"p50_ms": statistics.median(ordered), "p99_ms": ordered[int(0.99 * (len(ordered) - 1))]}


def _stream_all(client: httpx.Client, pid: int) -> dict[str, float]:
    peak, done = [0], threading.Event()

    def sample() -> None:
        while not done.is_set():
            peak[0] = max(peak[0], _procs.rss_kib(pid))
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    before = _procs.rss_kib(pid)
    sampler.start()
    start, size, tail = time.perf_counter(), 0, b""
    with client.stream("GET", "/api/v1/statistics.list", params={"count": "0"}, timeout=600) as r:
        r.raise_for_status()
        for chunk in r.iter_bytes():
            size += len(chunk)
            tail = (tail + chunk)[-200:]
    elapsed = time.perf_counter() - start
    done.set()
    sampler.join()
    count = int(tail.split(b'"count":')[1].split(b",")[0])
    return {"seconds": elapsed, "records": count, "mib": size / 2**20,
            "rss_before_mib": before / 1024, "rss_peak_mib": peak[0] / 1024}  # fmt: skip


def measure(label: str, url: str, requests: int) -> dict[str, Any]:
    _user(url)
    rng = random.Random(7)
    with tempfile.TemporaryDirectory() as tmp:
        port = _procs.free_port()
        argv = [str(REPO / ".venv/bin/fleetwatch"), "serve", "--port", str(port), "--data-dir", tmp,
                "--database", url]  # fmt: skip
        # Retention off: a store kept between runs must not be pruned under the measurement.
        env = {"FLEETWATCH_STORAGE_RETENTION_DAYS": "0"}
        server = _procs.spawn(label, argv, port=port, log_path=Path(tmp) / "hub.log", env=env)
        try:
            _procs.wait_ready(server, timeout_s=120)
            with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=60) as client:
                login = client.post("/api/v1/login", json={"user": "bench", "password": PASSWORD})
                data = login.json()["data"]
                client.headers.update(
                    {"X-User-Id": data["userId"], "X-Auth-Token": data["authToken"]}
                )
                by_system = [
                    _timed(client, {"query": f'{{"system": "host-{rng.randrange(SYSTEMS)}"}}',
                                    "sort": '{"createdAt": -1}', "count": "50"})
                    for _ in range(requests)
                ]  # fmt: skip
                by_hostname = [
                    _timed(client, {"query": f'{{"hostname": "host-{rng.randrange(SYSTEMS)}"}}',
                                    "sort": '{"createdAt": -1}', "count": "50"})
                    for _ in range(requests)
                ]  # fmt: skip
                hot_params = {"query": '{"summary.cpu_percent": {"$gt": 90}}', "count": "50"}
                hot = [_timed(client, hot_params) for _ in range(requests)]
                everything = [
                    _timed(client, {"count": "50"}) for _ in range(max(20, requests // 10))
                ]
                streamed = _stream_all(client, server.pid)
        finally:
            _procs.stop(server)
    last_hot, last_all = hot[-1][1], everything[-1][1]
    return {
        "by_system": _percentiles([t for t, _ in by_system]),
        "by_system_count": by_system[-1][1]["count"],
        "by_hostname": _percentiles([t for t, _ in by_hostname]),
        "by_hostname_count": by_hostname[-1][1]["count"],
        "cpu_over_90": _percentiles([t for t, _ in hot]),
        "cpu_over_90_total": last_hot["total"],
        "cpu_over_90_estimated": bool(last_hot.get("totalEstimated")),
        "unfiltered": _percentiles([t for t, _ in everything]),
        "unfiltered_total": last_all["total"],
        "stream": streamed,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--refill", action="store_true")
    parser.add_argument("--backends", default="sqlite,postgres")
    args = parser.parse_args()
    results: dict[str, Any] = {}
    rows = []
    for label, fill in (("SQLite", fill_sqlite), ("PostgreSQL", fill_postgres)):
        if ("sqlite" if label == "SQLite" else "postgres") not in args.backends.split(","):
            continue
        started = time.perf_counter()
        url = fill(args.refill)
        print(f"{label}: store ready in {time.perf_counter() - started:.0f} s", flush=True)
        r = measure(label, url, args.requests)
        results[label] = r
        rows.append([
            label,
            f"{r['by_system']['p50_ms']:.1f} / {r['by_system']['p99_ms']:.1f} ms",
            f"{r['by_hostname']['p50_ms']:.1f} / {r['by_hostname']['p99_ms']:.1f} ms",
            f"{r['cpu_over_90']['p50_ms']:.1f} / {r['cpu_over_90']['p99_ms']:.1f} ms",
            f"{r['cpu_over_90_total']:,}{' (est.)' if r['cpu_over_90_estimated'] else ''}",
            f"{r['unfiltered']['p50_ms']:.1f} / {r['unfiltered']['p99_ms']:.1f} ms",
            f"{r['stream']['records']:,} in {r['stream']['seconds']:.1f} s",
            f"{r['stream']['rss_peak_mib']:.0f} MiB",
        ])  # fmt: skip
    headers = ["backend", "system=host-N p50/p99", "hostname=host-N p50/p99",
               "cpu>90 p50/p99", "cpu>90 total", "unfiltered p50/p99", "count=0 streamed",
               "hub RSS peak"]  # fmt: skip
    print(_report.markdown_table(headers, rows, "lrrrrrrr"))
    print("\nTargets: system and hostname p99 < 20 ms, cpu>90 p99 < 50 ms (both backends),"
          " RSS < 150 MiB")  # fmt: skip
    _report.write_results("query", results)


if __name__ == "__main__":
    main()
