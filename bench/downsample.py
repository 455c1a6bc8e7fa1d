"""The downsampling job's cost: rolling a busy minute of pushed snapshots up, on both backends.

Run: ``.venv/bin/python bench/downsample.py [--snapshots 60000] [--systems 100] [--rounds 3]``

Stores ``--snapshots`` snapshots of ``fleetwatch push`` documents (this machine's, gathered
once: per-CPU figures, memory, load, every mount and interface and disk) spread over
``--systems`` systems and one minute, then times ``DownsampleJob.roll_up()`` over that minute.
The figure that matters is the CPU the hub's event-loop thread spends (``thread_time``): that
thread also answers every submission, so each microsecond per snapshot here is taken from
ingestion; beside it, the whole process's CPU (work moved to a worker thread still holds the
interpreter's lock) and how late the event loop wakes from a 1 ms sleep meanwhile (p99, max).
At 5,000 submissions/s a minute holds 300,000 snapshots. Wall time is reported too.
Works against any version of the job that takes ``(store, specs, first_days=, clock=)``, so
the same script measures the code before and after a change. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # executed as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import psycopg

from bench import _report
from bench._postgres import scratch_database
from fleetwatch.agent.document import DocumentBuilder
from fleetwatch.collect.registry import build_collectors
from fleetwatch.engine.downsample import DownsampleJob
from fleetwatch.ingest.normalise import normalise
from fleetwatch.ingest.submit_stats import validate
from fleetwatch.store import open_store

T0 = 1_800_000_000.0  # a whole hour
CHUNK = 2_000


async def fill(url: str, snapshots: int, systems: int) -> None:
    store = open_store(url)
    await store.open()
    try:
        document = validate(DocumentBuilder().build())
        stats = normalise(document)
        ids = [(await store.add_system(f"host-{n}")).id for n in range(systems)]
        for start in range(0, snapshots, CHUNK):
            await asyncio.gather(*(
                store.add_snapshot(ids[n % systems], T0 + 60.0 * n / snapshots, document,
                                   stats, "push")
                for n in range(start, min(start + CHUNK, snapshots))
            ))  # fmt: skip
    finally:
        await store.close()


Run = tuple[float, float, int, float, list[float]]


async def roll_up_once(url: str) -> Run:
    """(loop-thread CPU seconds, wall seconds, rows written, process CPU seconds, the event
    loop's lags in seconds) for one roll-up of the minute."""
    store = open_store(url)
    await store.open()
    try:
        specs = {c.spec.name: c.spec for c in build_collectors()}
        job = DownsampleJob(store, specs, first_days=1, clock=lambda: T0 + 75)
        lags: list[float] = []
        stop = asyncio.Event()
        ticker = asyncio.create_task(_ticks(stop, lags))
        cpu, wall, process = time.thread_time(), time.perf_counter(), time.process_time()
        written = await job.roll_up()
        cpu, wall = time.thread_time() - cpu, time.perf_counter() - wall
        process = time.process_time() - process
        stop.set()
        await ticker
        return cpu, wall, written, process, lags
    finally:
        await store.close()


async def _ticks(stop: asyncio.Event, lags: list[float]) -> None:
    """How late a 1 ms sleep wakes while the roll-up runs: what a submission arriving then
    waits for the event loop (work in a worker thread still takes the interpreter's lock)."""
    while not stop.is_set():
        start = time.perf_counter()
        await asyncio.sleep(0.001)
        lags.append(time.perf_counter() - start - 0.001)


def measure(url: str, args: argparse.Namespace) -> dict[str, float]:
    asyncio.run(fill(url, args.snapshots, args.systems))
    runs = []
    for _ in range(args.rounds):
        # Each round rolls the same minute up again: the watermark starts unset every time.
        runs.append(asyncio.run(_fresh_watermark_roll_up(url)))
    cpu = statistics.median(r[0] for r in runs)
    wall = statistics.median(r[1] for r in runs)
    process = statistics.median(r[3] for r in runs)
    lags = [sorted(r[4]) for r in runs]
    return {
        "loop_cpu_s": cpu,
        "wall_s": wall,
        "loop_cpu_us_per_snapshot": 1e6 * cpu / args.snapshots,
        "process_cpu_us_per_snapshot": 1e6 * process / args.snapshots,
        "loop_lag_p99_ms": statistics.median(1e3 * r[int(0.99 * (len(r) - 1))] for r in lags),
        "loop_lag_max_ms": statistics.median(1e3 * r[-1] for r in lags),
        "buckets_written": float(runs[0][2]),
    }


async def _fresh_watermark_roll_up(url: str) -> Run:
    # The store never moves a watermark back, as a job must not; the bench does, to repeat.
    if url.startswith("sqlite"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            conn.execute("DELETE FROM rollup_progress")
    else:
        with psycopg.connect(url, autocommit=True) as conn:
            conn.execute("DELETE FROM rollup_progress")
    return await roll_up_once(url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--snapshots", type=int, default=60_000)
    parser.add_argument("--systems", type=int, default=100)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    results: dict[str, dict[str, float]] = {}
    for backend in args.backends.split(","):
        if backend == "sqlite":
            with tempfile.TemporaryDirectory() as tmp:
                results["SQLite"] = measure(f"sqlite:///{Path(tmp) / 'fw.sqlite3'}", args)
        else:
            with scratch_database(args.postgres) as url:
                results["PostgreSQL"] = measure(url, args)
    rows = [[name, f"{r['loop_cpu_s']:.2f} s", f"{r['loop_cpu_us_per_snapshot']:.1f} µs",
             f"{r['process_cpu_us_per_snapshot']:.1f} µs",
             f"{r['loop_lag_p99_ms']:.1f} / {r['loop_lag_max_ms']:.1f} ms",
             f"{r['wall_s']:.2f} s", f"{r['buckets_written']:.0f}"]
            for name, r in results.items()]  # fmt: skip
    print(f"{args.snapshots:,} snapshots of {args.systems} systems in one minute, "
          f"median of {args.rounds} roll-ups:\n")  # fmt: skip
    print(
        _report.markdown_table(
            [
                "backend",
                "event-loop CPU",
                "per snapshot",
                "hub process CPU per snapshot",
                "loop lag p99 / max",
                "wall",
                "buckets written",
            ],
            rows,
            "lrrrrrr",
        )
    )
    _report.write_results("downsample", {"args": vars(args), "results": results})


if __name__ == "__main__":
    main()
