"""What one collection costs: CPU-milliseconds per plugin, and the hub's idle CPU share.

Run: ``.venv/bin/python bench/collection_cost.py [--processes 200] [--rounds 30] [--idle 60]``

1. Tops the machine up to ``--processes`` processes with idle ``sleep`` children, so the
   process walk is measured at the size the target names.
2. Builds every default-enabled collector in this process and times ``collect()`` per plugin
   with ``time.process_time()`` (CPU time, not wall time) over ``--rounds`` rounds.
3. Starts a real ``fleetwatch serve --refresh 2`` and reads its CPU-seconds over ``--idle``
   seconds with no requests: the share of one core the background collection costs.
The target: the whole collection at ``--refresh 2`` under 3 % of one core.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

if __package__ in (None, ""):  # executed as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import _procs, _report
from fleetwatch.collect.base import CollectContext
from fleetwatch.collect.live import LiveStats
from fleetwatch.collect.registry import PLUGIN_NAMES, build_collectors
from fleetwatch.model.limits import default_limits

REPO = Path(__file__).resolve().parents[1]
TARGET_PERCENT = 3.0


def process_count() -> int:
    return sum(1 for p in Path("/proc").iterdir() if p.name.isdigit())


def top_up(target: int) -> list[subprocess.Popen[bytes]]:
    """Idle children until the machine has ``target`` processes (bounded: at most 1,000)."""
    missing = max(0, min(target - process_count(), 1000))
    return [subprocess.Popen(["sleep", "600"]) for _ in range(missing)]


def per_plugin_ms(rounds: int) -> dict[str, float]:
    limits = default_limits(list(PLUGIN_NAMES), 1200)
    live = LiveStats(build_collectors(), limits, refresh=2.0, history_size=1200)
    collectors = [c for c in build_collectors() if not live.disabled(c.spec.name)]
    spent = {c.spec.name: 0.0 for c in collectors}
    results: dict[str, object] = {}
    for _ in range(rounds + 1):
        ctx = CollectContext(now=time.time(), limits=limits, results=results)
        for collector in collectors:
            started = time.process_time()
            results[collector.spec.name] = collector.collect(ctx)
            spent[collector.spec.name] += time.process_time() - started
        time.sleep(0.1)
    return {name: 1000.0 * total / (rounds + 1) for name, total in spent.items()}


def hub_idle_percent(idle: float) -> float:
    with tempfile.TemporaryDirectory() as tmp:
        port = _procs.free_port()
        argv = [str(REPO / ".venv/bin/fleetwatch"), "serve", "--port", str(port),
                "--data-dir", tmp, "--refresh", "2"]  # fmt: skip
        server = _procs.spawn("hub", argv, port=port, log_path=Path(tmp) / "hub.log")
        try:
            _procs.wait_ready(server)
            time.sleep(3)  # past start-up work
            before = _procs.cpu_seconds(server.pid)
            time.sleep(idle)
            spent = _procs.cpu_seconds(server.pid) - before
        finally:
            _procs.stop(server)
    return 100.0 * spent / idle


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--processes", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--idle", type=float, default=60.0)
    args = parser.parse_args()
    children = top_up(args.processes)
    try:
        count = process_count()
        costs = per_plugin_ms(args.rounds)
        idle = hub_idle_percent(args.idle)
    finally:
        for child in children:
            child.kill()
            child.wait()
    rows = [[f"`{name}`", f"{ms:.2f}"] for name, ms in sorted(costs.items(), key=lambda kv: -kv[1])]
    total = sum(costs.values())
    rows.append(["**total per collection**", f"**{total:.2f}**"])
    print(f"Collection cost with {count} processes on this machine ({args.rounds} rounds):\n")
    print(_report.markdown_table(["plugin", "CPU ms per collection"], rows, "lr"))
    share = 100.0 * total / 1000.0 / 2.0
    print(f"\nCollectors alone at --refresh 2: {share:.2f} % of one core")
    print(f"Real hub, idle, --refresh 2, {args.idle:.0f} s: {idle:.2f} % of one core "
          f"({idle * 0.6:.2f} CPU-s/min); target < {TARGET_PERCENT} %: "
          f"{'PASS' if idle < TARGET_PERCENT else 'FAIL'}")  # fmt: skip
    _report.write_results(
        "collection_cost",
        {"processes": count, "per_plugin_ms": costs, "total_ms": total, "hub_idle_percent": idle},
    )


if __name__ == "__main__":
    main()
