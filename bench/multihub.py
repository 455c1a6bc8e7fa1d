"""Several hubs on one PostgreSQL database: accepted ``submit_stats``/s with one hub and with two,
in the same run; and the staleness state's cost with a big fleet (start, idle tick).

Run: ``flock /tmp/fleetwatch-bench.lock .venv/bin/python bench/multihub.py [--rounds 3]
[--duration 8] [--connections 40] [--systems 10000] [--postgres URL]``

Ingest: two wrk processes (half the connections each) load either the one hub, or one hub each:
the same harness both ways. Scale: ``--systems`` pushing systems written straight into a scratch
database (SQLite and PostgreSQL), then the time a hub takes to answer its first request, and the
staleness watcher's restore and idle tick in process. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

if __package__ in (None, ""):  # executed as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg

from bench import _procs, _report, _wrk
from bench._postgres import scratch_database
from bench.ingest import BODY, LUA, prepare, wrk_lua
from fleetwatch.engine.staleness import StalenessWatcher
from fleetwatch.store import open_store
from fleetwatch.store.base import Statement

REPO = Path(__file__).resolve().parents[1]


def start_hubs(url: str, tmp: Path, count: int) -> list[_procs.Server]:
    hubs = []
    for n in range(count):
        port = _procs.free_port()
        argv = [str(REPO / ".venv/bin/fleetwatch"), "serve", "--port", str(port),
                "--data-dir", str(tmp / f"hub{n}"), "--database", url]  # fmt: skip
        hubs.append(_procs.spawn(f"hub{n}", argv, port=port, log_path=tmp / f"hub{n}.log"))
    for hub in hubs:
        _procs.wait_ready(hub)
    return hubs


def load(bases: list[str], auth: str, connections: int, duration: float) -> tuple[float, float]:
    """Two wrk runs at once (on one hub, or one per hub): total accepted/s, worst p99."""
    script = LUA.format(body=BODY, auth=auth, delay="")
    targets = [bases[0], bases[0]] if len(bases) == 1 else bases[:2]
    with ThreadPoolExecutor(2) as pool:
        runs = list(pool.map(
            lambda base: wrk_lua(base + "/api/external/submit_stats", script,
                                 connections // 2, duration), targets))  # fmt: skip
    refused = sum(r.non_2xx_3xx + r.socket_errors for r in runs)
    if refused:  # counted against the rate below, and said: a refusal is no accepted snapshot
        print(f"  {refused} answers were not 2xx (or failed)", file=sys.stderr)
    total = sum(r.requests for r in runs)
    accepted = sum(r.requests_per_s for r in runs) * (1 - refused / max(total, 1))
    return accepted, max(r.p99_ms for r in runs)


def ingest(url: str, args: argparse.Namespace) -> dict[str, float]:
    out: dict[str, list[float]] = {
        f"{label}{part}": [] for label in ("one", "two")
        for part in ("", "_p99", "_hub_cores", "_busy_cores", "_wrk_cores", "_pg_cores")
    }  # fmt: skip
    postmaster = postmaster_pid(url)
    with tempfile.TemporaryDirectory() as tmp:
        logs = Path(args.logs) if args.logs else Path(tmp)
        hubs = start_hubs(url, logs, 2)
        try:
            token, _ = prepare(url)
            auth = _wrk.basic_auth_header(f":{token}").removeprefix("Authorization: ")
            bases = [f"http://127.0.0.1:{hub.port}" for hub in hubs]
            for n in range(args.rounds):
                print(f"ingest round {n + 1}/{args.rounds}", file=sys.stderr)
                for label, targets in (("one", bases[:1]), ("two", bases)):
                    before = [_procs.cpu_snapshot(h.proc.pid) for h in hubs]
                    pg_before = _procs.cpu_snapshot(postmaster) if postmaster else before[0]
                    rate, p99 = load(targets, auth, args.connections, args.duration)
                    after = [_procs.cpu_snapshot(h.proc.pid) for h in hubs]
                    used = [_procs.cpu_usage(a, b) for a, b in zip(before, after, strict=True)]
                    out[label].append(rate)
                    out[f"{label}_p99"].append(p99)
                    out[f"{label}_hub_cores"].append(sum(u.server_s / u.wall_s for u in used))
                    out[f"{label}_busy_cores"].append(used[0].system_busy_s / used[0].wall_s)
                    out[f"{label}_wrk_cores"].append(used[0].harness_s / used[0].wall_s)
                    if postmaster:
                        out[f"{label}_pg_cores"].append(
                            _procs.cpu_usage(pg_before, _procs.cpu_snapshot(postmaster)).server_s
                            / used[0].wall_s
                        )
        finally:
            for hub in hubs:
                _procs.stop(hub)
    return {key: statistics.median(values) for key, values in out.items() if values}


def postmaster_pid(url: str) -> int | None:
    """The PostgreSQL server's pid (its backends are its children), if it is on this machine."""
    try:
        with psycopg.connect(url, autocommit=True) as conn:
            row = conn.execute("SHOW data_directory").fetchone()
        return int((Path(row[0]) / "postmaster.pid").read_text().split()[0]) if row else None
    except (psycopg.Error, OSError, ValueError):
        return None


async def seed(url: str, systems: int) -> None:
    """``systems`` pushing systems, each with a rhythm (10 s, last seen now), in a few writes."""
    store = open_store(url)
    await store.open()
    try:
        now = time.time()
        ph = "?" if url.startswith("sqlite") else "%s"
        add = (f"INSERT INTO systems (name, hostname, source, created_at, last_seen)"
               f" VALUES ({ph}, {ph}, 'push', {ph}, {ph})")  # fmt: skip
        for start in range(0, systems, 1000):
            names = [f"nas{n:05d}" for n in range(start, min(start + 1000, systems))]
            await asyncio.gather(*(store._write(Statement(add, (name, name, now, now)))  # type: ignore[attr-defined]
                                   for name in names))  # fmt: skip
        ids = [s.id for s in await store.list_systems()]
        for start in range(0, len(ids), 1000):
            chunk = ids[start : start + 1000]
            for t in (now - 20, now - 10, now):
                await store.record_seen([(i, t) for i in chunk], 120.0)
    finally:
        await store.close()


async def tick_cost(url: str) -> tuple[float, float]:
    """The watcher's restore and the median idle tick (check() with nothing due), in ms."""
    store = open_store(url)
    await store.open()
    try:
        watcher = StalenessWatcher(store)
        began = time.perf_counter()
        await watcher.restore()
        restore_ms = 1000 * (time.perf_counter() - began)
        ticks = []
        for _ in range(50):
            began = time.perf_counter()
            await watcher.check()
            ticks.append(1000 * (time.perf_counter() - began))
        return restore_ms, statistics.median(ticks)
    finally:
        await store.close()


def first_answers(url: str, rounds: int) -> list[float]:
    with tempfile.TemporaryDirectory() as tmp:
        starts = []
        for _ in range(rounds):
            [hub] = start_hubs(url, Path(tmp), 1)
            starts.append(time.monotonic() - hub.spawned_at)
            _procs.stop(hub)
    return starts


def scale(url: str, args: argparse.Namespace) -> dict[str, float]:
    empty = first_answers(url, args.rounds)  # the same machine's load, no fleet
    asyncio.run(seed(url, args.systems))
    restore_ms, tick_ms = asyncio.run(tick_cost(url))
    starts = first_answers(url, args.rounds)
    return {"restore_ms": restore_ms, "tick_ms": tick_ms, "first_answer_s": min(starts),
            "first_answer_s_median": statistics.median(starts),
            "empty_first_answer_s_median": statistics.median(empty)}  # fmt: skip


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=8.0)
    parser.add_argument("--connections", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--systems", type=int, default=10_000)
    parser.add_argument("--parts", default="ingest,scale")
    parser.add_argument("--logs", default="", help="keep the ingest hubs' logs in this folder")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    _wrk.ensure_wrk()
    results: dict[str, object] = {}
    if "ingest" in args.parts:
        with scratch_database(args.postgres, prefix="fw_multihub_bench") as url:
            r = ingest(url, args)
        results["ingest"] = r
        print(f"\nsubmit_stats on one PostgreSQL, medians of {args.rounds} rounds of "
              f"{args.duration:g} s, {args.connections} connections:\n")  # fmt: skip
        print(_report.markdown_table(
            ["hubs", "accepted/s", "p99", "cores: hubs", "PostgreSQL", "wrk", "machine busy"],
            [[n, f"{r[k]:,.0f}", f"{r[k + '_p99']:.1f} ms", f"{r[k + '_hub_cores']:.2f}",
              f"{r.get(k + '_pg_cores', float('nan')):.2f}", f"{r[k + '_wrk_cores']:.2f}",
              f"{r[k + '_busy_cores']:.2f} of 2"] for n, k in (("1", "one"), ("2", "two"))],
            "lrrrrrr"))  # fmt: skip
        print(f"\ntwo hubs / one hub: {r['two'] / r['one']:.2f}x")
    if "scale" in args.parts:
        rows = []
        with tempfile.TemporaryDirectory() as tmp:
            sqlite = scale(f"sqlite:///{Path(tmp) / 'fw.sqlite3'}", args)
        with scratch_database(args.postgres, prefix="fw_multihub_bench") as url:
            postgres = scale(url, args)
        results["scale"] = {"sqlite": sqlite, "postgres": postgres}
        for label, r in (("SQLite", sqlite), ("PostgreSQL", postgres)):
            rows.append([label, f"{r['first_answer_s_median']:.2f} s",
                         f"{r['empty_first_answer_s_median']:.2f} s",
                         f"{r['restore_ms']:.1f} ms", f"{r['tick_ms']:.2f} ms"])  # fmt: skip
        print(f"\n{args.systems:,} pushing systems:\n")
        print(_report.markdown_table(
            ["backend", "first answer after start", "same, empty database", "staleness restore",
             "idle tick"], rows, "lrrrr"))  # fmt: skip
    _report.write_results("multihub", {"args": vars(args), "results": results})


if __name__ == "__main__":
    main()
