#!/usr/bin/env python3
"""OP5 filter endpoints with many services: what ``GET /api/filter/query`` and ``/count`` cost.

Run from the repository root::

    .venv/bin/python bench/check_filters.py                  # 100,000 services, both backends
    .venv/bin/python bench/check_filters.py --services 20000 --postgres ''

A store with ``--services`` services over 1,000 hosts (one in 100 services CRITICAL, hosts
``web0``... and ``db0``...) is filled in bulk, then the hub's app is called in process (httpx
over ASGI, so no socket; auth cached after the first request) with each filter below, 5 times;
the table gives the median wall time per request. Loopback only (no network at all).
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

if __package__ in (None, ""):  # executed as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import _report

POSTGRES = "postgresql://postgres@127.0.0.1:5432/postgres"
HOSTS = 1000
QUERIES = [
    ("count", "[services] all", ""),
    ("count", "[services] state != 0", ""),
    ("query", "[services] state != 0", "&limit=100"),
    ("query", '[services] host.name = "web8"', ""),
    ("query", '[services] state != 0 and host.name = "web8"', ""),
    ("query", "[services] all", "&limit=50&sort=state desc"),
    ("query", '[hosts] name ~~ "web*"', "&columns=name,state"),
    ("count", '[services] description ~~ "disk" or state = 2', ""),
]


def _fill(url: str, services: int) -> None:
    now = time.time()
    hosts = [(f"web{i}" if i % 2 == 0 else f"db{i}") for i in range(HOSTS)]
    host_rows = [("host", None, name, "", now) for name in hosts]
    sql_hosts = (
        "INSERT INTO check_objects (kind, host_id, host_name, service_description, created_at)"
        " VALUES (?, ?, ?, ?, ?)"
    )
    sql_services = (
        "INSERT INTO check_objects (kind, host_id, host_name, service_description, created_at,"
        " state, state_type, output, has_been_checked, last_check)"
        " SELECT 'service', id, host_name, ?, ?, ?, 'HARD', ?, 1, ? FROM check_objects"
        " WHERE host_name = ? AND kind = 'host'"
    )
    per_host = services // HOSTS
    service_rows = []
    for number in range(services):
        host = hosts[number % HOSTS]
        state = 2 if number % 100 == 0 else 0
        name = ("disk " if number % 3 == 0 else "svc ") + str(number // HOSTS % per_host)
        service_rows.append((name, now, state, f"state {state}", now, host))
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            conn.executemany(sql_hosts, host_rows)
            conn.executemany(sql_services, service_rows)
        return
    import psycopg  # noqa: PLC0415

    with psycopg.connect(url) as conn:
        cursor = conn.cursor()
        cursor.executemany(sql_hosts.replace("?", "%s"), host_rows)
        cursor.executemany(sql_services.replace("?", "%s"), service_rows)


async def _measure(url: str, data_dir: Path, services: int, rounds: int) -> list[dict[str, Any]]:
    import httpx  # noqa: PLC0415

    from fleetwatch.app import build_hub  # noqa: PLC0415
    from fleetwatch.auth.secrets import PasswordHashing  # noqa: PLC0415
    from fleetwatch.config import load_config  # noqa: PLC0415

    flags = {("storage", "data_dir"): str(data_dir), ("storage", "database"): url}
    hub = build_hub(load_config(None, env={}, flags=flags), collectors=[])
    await hub.prepare()
    try:
        await hub.store.add_user("bench", PasswordHashing().hash("bench password"), ["readonly"])
        await asyncio.to_thread(_fill, url, services)
        transport = httpx.ASGITransport(app=hub.app)
        out = []
        async with httpx.AsyncClient(transport=transport, base_url="http://127.0.0.1",
                                     auth=("bench", "bench password")) as client:  # fmt: skip
            for kind, query, extra in QUERIES:
                times: list[float] = []
                answer: Any = None
                for _ in range(rounds):
                    started = time.perf_counter()
                    response = await client.get(f"/api/filter/{kind}?query={query}{extra}")
                    times.append(time.perf_counter() - started)
                    assert response.status_code == 200, response.text
                    answer = response.json()
                size = answer["count"] if kind == "count" else len(answer)
                median = statistics.median(times)
                out.append({"request": f"{kind} {query}{extra}", "median_s": median, "rows": size})
        return out
    finally:
        await hub.store.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--services", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--postgres", default=POSTGRES, help="admin URL; '' skips PostgreSQL")
    args = parser.parse_args()
    results: dict[str, list[dict[str, Any]]] = {}
    with tempfile.TemporaryDirectory(prefix="fw-bench-filters-") as tmp:
        sqlite_url = f"sqlite:///{Path(tmp) / 'fw.sqlite3'}"
        results["SQLite"] = asyncio.run(_measure(sqlite_url, Path(tmp), args.services, args.rounds))
        if args.postgres:
            import psycopg  # noqa: PLC0415

            name = f"fw_bench_filters_{secrets.token_hex(4)}"
            with psycopg.connect(args.postgres, autocommit=True) as conn:
                conn.execute(f'CREATE DATABASE "{name}"')
            try:
                url = args.postgres.rsplit("/", 1)[0] + f"/{name}"
                results["PostgreSQL"] = asyncio.run(_measure(url, Path(tmp), args.services,
                                                             args.rounds))  # fmt: skip
            finally:
                with psycopg.connect(args.postgres, autocommit=True) as conn:
                    conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    backends = list(results)
    rows = []
    for index, (kind, query, extra) in enumerate(QUERIES):
        row = [f"`{kind} {query}{extra}`", str(results[backends[0]][index]["rows"])]
        row += [f"{results[b][index]['median_s'] * 1000:,.1f} ms" for b in backends]
        rows.append(row)
    print(f"{args.services:,} services on {HOSTS:,} hosts, median of {args.rounds}\n")
    print(_report.markdown_table(["request", "rows", *backends], rows))
    _report.write_results("check_filters", results)
    return 0


if __name__ == "__main__":
    sys.exit(main())
