"""submit_stats throughput: accepted snapshots/s on SQLite and PostgreSQL, side by side with a
trivial authenticated endpoint of the same hub, and p99 latency at 80 % of that rate.

Run: ``.venv/bin/python bench/ingest.py [--rounds 3] [--duration 10] [--connections 50]
[--backends sqlite,postgres] [--postgres URL] [--engine granian|uvicorn]``

Targets (issue 5): >= 5,000 accepted snapshots/s on SQLite in one hub process, >= 0.5x the
req/s of a trivial authenticated endpoint, p99 < 50 ms at 80 % of the rate. Loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import subprocess
import sys
import tempfile
from pathlib import Path

if __package__ in (None, ""):  # executed as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


from bench import _procs, _report, _wrk
from bench._postgres import scratch_database
from fleetwatch.auth.admin import Actor, Admin
from fleetwatch.auth.secrets import PasswordHashing
from fleetwatch.store import open_store

REPO = Path(__file__).resolve().parents[1]
BODY = (
    '{ "hostname" : "TESTHOST", "version" : "TESTVERSION", "storage" : { "total-bytes" : 4096, '
    '"used-bytes" : 1523 }, "memory" : {"bytes-per-page" : 4096, "active-pages" : 50, '
    '"free-pages" : 100, "inactive-pages" : 30 }, "cpu" : [{"user":50,"system":10,"idle":40}], '
    '"cpu_temperatures" : [30], "disk" : [{"Name":"ada0", "KBps read" : 60, "KBps write" : 20}]}'
)
LUA = """wrk.method = "PUT"
wrk.body = [[{body}]]
wrk.headers["Content-Type"] = "application/json"
wrk.headers["Authorization"] = "{auth}"
{delay}
"""


def prepare(url: str) -> tuple[str, str]:
    """A system token and a user's Basic header, written into the hub's store."""

    async def run() -> tuple[str, str]:
        store = open_store(url)
        await store.open()
        try:
            admin = Admin(store, PasswordHashing())
            actor = Actor("bench", "127.0.0.1")
            _, token = await admin.add_system(actor, "bench")
            await admin.add_user(actor, "bench", "bench password", ["readonly"])
            return token, _wrk.basic_auth_header("bench:bench password")
        finally:
            await store.close()

    return asyncio.run(run())


def wrk_lua(url: str, script: str, connections: int, duration: float) -> _wrk.WrkResult:
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as f:
        f.write(script)
    argv = ["wrk", "-t2", f"-c{connections}", f"-d{duration:g}s", "--latency", "-s", f.name, url]
    out = subprocess.run(argv, capture_output=True, text=True, check=True, timeout=duration + 60)
    return _wrk.parse_wrk_output(out.stdout, url=url, argv=argv)


def paced(url: str, auth: str, connections: int, rate: float, duration: float) -> _wrk.WrkResult:
    """wrk held near ``rate`` req/s. wrk's ``delay()`` pauses after each answer, so the rate is
    connections / (delay + latency): a 3 s calibration run measures the latency part.

    The pauses are drawn at random (exponential, of the mean that gives the rate), so the
    submissions arrive like those of independent agents. A fixed pause would not do: every
    connection answered by one group commit would sleep the same time and come back in the
    same burst, and the bench would time its own bursts queueing (SQLite on this machine: p99
    55 ms at 81 % of the rate with a fixed pause, 26 ms at 75 % with random ones)."""
    ingest_url = url + "/api/external/submit_stats"

    def script(delay_ms: float) -> str:
        mean = max(delay_ms, 0.0)
        pause = (
            # Each wrk thread seeds from its own table address, so the threads' pauses differ.
            "function init(args) math.randomseed(os.time() + tonumber(tostring({}):sub(8), 16))"
            " end\n"
            f"function delay() return -{mean:.3f} * math.log(1 - math.random()) end"
        )
        return LUA.format(body=BODY, auth=auth, delay=pause)

    delay = 1000.0 * connections / rate
    for _ in range(2):  # the latency depends on the load, so calibrate twice
        trial = wrk_lua(ingest_url, script(delay), connections, 3)
        latency_ms = 1000.0 * connections / max(trial.requests_per_s, 1.0) - delay
        delay = 1000.0 * connections / rate - latency_ms
    return wrk_lua(ingest_url, script(delay), connections, duration)


def measure(database: str, label: str, args: argparse.Namespace) -> dict[str, float]:
    rounds: list[dict[str, float]] = []
    with tempfile.TemporaryDirectory() as tmp:
        url = database or f"sqlite:///{Path(tmp) / 'fleetwatch.sqlite3'}"
        port = _procs.free_port()
        argv = [str(REPO / ".venv/bin/fleetwatch"), "serve", "--port", str(port), "--data-dir", tmp,
                "--database", url]  # fmt: skip
        server = _procs.spawn(label, argv, port=port, log_path=Path(tmp) / "hub.log",
                              env={"FLEETWATCH_SERVER_HTTP_ENGINE": args.engine})  # fmt: skip
        try:
            _procs.wait_ready(server)
            token, user = prepare(url)
            base = f"http://127.0.0.1:{port}"
            # The Lua script sets the header's value; basic_auth_header gives the whole line.
            auth = _wrk.basic_auth_header(f":{token}").removeprefix("Authorization: ")
            for n in range(args.rounds):
                print(f"{label}: round {n + 1}/{args.rounds}", file=sys.stderr)
                rounds.append(one_round(base, auth, user, server.proc.pid, args))
        finally:
            _procs.stop(server)
    return {key: _report.median(r[key] for r in rounds) for key in rounds[0]}


def one_round(
    base: str, auth: str, user: str, pid: int, args: argparse.Namespace
) -> dict[str, float]:
    connections, duration = args.connections, args.duration
    before = _procs.cpu_snapshot(pid)
    full = wrk_lua(base + "/api/external/submit_stats", LUA.format(body=BODY, auth=auth, delay=""),
                   connections, duration)  # fmt: skip
    usage = _procs.cpu_usage(before, _procs.cpu_snapshot(pid))
    trivial = _wrk.run_wrk(base + "/api/v1/me", connections=10, duration_s=duration,
                           headers=[user])  # fmt: skip
    at80 = paced(base, auth, connections, 0.8 * full.requests_per_s, duration)
    for name, run in (("submit_stats", full), ("GET /api/v1/me", trivial), ("paced", at80)):
        # A refused request is fast: only a run of accepted answers measures anything.
        if not run.clean:
            raise SystemExit(f"{name}: {run.non_2xx_3xx} non-2xx answers, "
                             f"{run.socket_errors} socket errors; nothing measured")  # fmt: skip
    return {
        "accepted_per_s": full.requests_per_s,
        "p99_ms_full": full.p99_ms,
        "hub_cores_full": usage.server_s / usage.wall_s,
        "wrk_cores_full": usage.harness_s / usage.wall_s,
        "other_cores_full": usage.other_cores,
        "trivial_per_s": trivial.requests_per_s,
        "ratio": full.requests_per_s / trivial.requests_per_s,
        "rate_at_80": at80.requests_per_s,
        "share_at_80": at80.requests_per_s / full.requests_per_s,
        "p99_ms_at_80": at80.p99_ms,
        "errors": float(full.socket_errors + at80.socket_errors),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0)
    parser.add_argument("--connections", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=3, help="medians over this many rounds")
    parser.add_argument("--backends", default="sqlite,postgres")
    parser.add_argument("--engine", default="granian", help="the hub's server.http_engine")
    parser.add_argument("--postgres", default="postgresql://postgres@127.0.0.1:5432/postgres")
    args = parser.parse_args()
    _wrk.ensure_wrk()
    rows, results = [], {}
    for backend in args.backends.split(","):
        label = "SQLite" if backend == "sqlite" else "PostgreSQL"
        if backend == "sqlite":
            r = measure("", label, args)
        else:
            with scratch_database(args.postgres) as pg_url:
                r = measure(pg_url, label, args)
        results[label] = r
        rows.append([label, f"{r['accepted_per_s']:,.0f}", f"{r['trivial_per_s']:,.0f}",
                     f"{r['ratio']:.2f}x", f"{r['hub_cores_full']:.2f} / {r['wrk_cores_full']:.2f}",
                     f"{r['p99_ms_full']:.1f} ms",
                     f"{r['rate_at_80']:,.0f} ({r['share_at_80']:.0%})",
                     f"{r['p99_ms_at_80']:.1f} ms"])  # fmt: skip
    headers = ["backend", "accepted snapshots/s", "GET /api/v1/me req/s", "ratio",
               "cores hub / wrk", "p99 (full)", "paced", "p99 paced"]  # fmt: skip
    print(
        f"Medians of {args.rounds} rounds of {args.duration:g} s, {args.connections} connections,"
        f" the hub on {args.engine}:\n"
    )
    print(_report.markdown_table(headers, rows, "lrrrrrrr"))
    print("\nTargets (SQLite): >= 5,000/s, ratio >= 0.5, p99 at 80 % < 50 ms")
    _report.write_results("ingest", {"args": vars(args), "results": results})


if __name__ == "__main__":
    main()
