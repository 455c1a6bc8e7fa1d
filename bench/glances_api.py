#!/usr/bin/env python3
"""Fleetwatch hub vs Glances 4.5.x on the Glances REST API v4.

Run from the repository root::

    .venv/bin/python bench/glances_api.py            # 3 rounds (about 7 minutes)
    .venv/bin/python bench/glances_api.py --quick    # 1 round of 3 s loads, 15 s idle windows

Everything stays on 127.0.0.1. See bench/README.md for what each figure means.
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import platform
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any

if __package__ in (None, ""):  # executed as a script: make `bench` importable
    sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import _glances, _procs, _report, _wrk

REPO = Path(__file__).resolve().parents[1]
ENDPOINTS = ("/api/4/cpu", "/api/4/all", "/api/4/processlist")
STATUS_PATH = "/api/4/status"
HUB, GLANCES = "hub", "glances"
LABELS = {HUB: "Hub", GLANCES: "Glances"}
BENCH_NAME = "glances_api"


# --------------------------------------------------------------------------------------------
# Settings
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Settings:
    rounds: int
    duration_s: float
    warmup_s: float
    idle_s: float
    starts: int
    servers: tuple[str, ...]
    threads: int = 2
    connections: int = 10
    refresh_s: int = 2
    glances_poll_s: float = 2.0
    settle_s: float = 5.0
    ready_timeout_s: float = 60.0
    auth: str | None = None
    quick: bool = False
    check: bool = False

    def to_json(self) -> dict[str, Any]:
        d = dict(self.__dict__)
        d["auth"] = "set" if self.auth else None  # never write the credentials
        return d


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    p.add_argument("--quick", action="store_true", help="1 round of 3 s loads, 15 s idle windows")
    p.add_argument("--rounds", type=int, help="A/B rounds (default 3, --quick 1)")
    p.add_argument("--duration", type=float, help="wrk seconds per endpoint (default 10, quick 3)")
    p.add_argument("--warmup", type=float, default=3.0, help="warm-up seconds per endpoint")
    p.add_argument("--idle", type=float, help="idle CPU window seconds (default 60, quick 15)")
    p.add_argument("--starts", type=int, help="fresh starts for time-to-first-200 (default 3)")
    p.add_argument(
        "--servers",
        choices=("both", HUB, GLANCES),
        default="both",
        help="benchmark both (default) or only one server (for developing the harness)",
    )
    p.add_argument("--check", action="store_true", help="exit 1 when a target FAILs")
    return p.parse_args(argv)


def settings_from_args(ns: argparse.Namespace) -> Settings:
    quick = bool(ns.quick)
    servers = (HUB, GLANCES) if ns.servers == "both" else (str(ns.servers),)
    rounds = ns.rounds if ns.rounds is not None else (1 if quick else 3)
    return Settings(
        rounds=max(1, min(rounds, 50)),
        duration_s=ns.duration if ns.duration is not None else (3.0 if quick else 10.0),
        warmup_s=max(0.0, ns.warmup),
        idle_s=ns.idle if ns.idle is not None else (15.0 if quick else 60.0),
        starts=max(1, min(ns.starts if ns.starts is not None else 3, 20)),
        servers=servers,
        auth=os.environ.get("BENCH_AUTH") or None,
        quick=quick,
        check=bool(ns.check),
    )


def log(msg: str) -> None:
    print(f"# {time.strftime('%H:%M:%S')} {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------------------------
# Server launching
# --------------------------------------------------------------------------------------------


def hub_exe() -> Path:
    """The `fleetwatch` console script next to the running interpreter (the project venv)."""
    here = Path(sys.executable).parent / "fleetwatch"
    return here if here.exists() else REPO / ".venv" / "bin" / "fleetwatch"


def hub_available() -> tuple[bool, str]:
    exe = hub_exe()
    if not exe.exists():
        return False, f"{exe} not found"
    try:
        proc = subprocess.run(
            [str(exe), "serve", "--help"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return False, repr(exc)
    if proc.returncode != 0:
        lines = (proc.stderr or proc.stdout).strip().splitlines()
        return False, lines[-1] if lines else f"exit status {proc.returncode}"
    return True, ""


def hub_argv(port: int, data_dir: Path, refresh_s: int) -> list[str]:
    """``fleetwatch serve --bind 127.0.0.1 --port PORT --data-dir DIR --refresh N``."""
    return [
        str(hub_exe()),
        "serve",
        "--bind",
        _procs.LOOPBACK,
        "--port",
        str(port),
        "--data-dir",
        str(data_dir),
        "--refresh",
        str(refresh_s),
    ]


def add_bench_user(data_dir: Path, credentials: str) -> None:
    """Make the ``BENCH_AUTH`` user (in ``readonly``) in a fresh hub's data dir."""
    user, _, password = credentials.partition(":")
    argv = [sys.executable, "-m", "fleetwatch.cli_admin", "user", "add", user, "--group",
            "readonly", "--password-stdin", "--data-dir", str(data_dir)]  # fmt: skip
    done = subprocess.run(argv, input=password + "\n", capture_output=True, text=True,
                          timeout=60, check=False)  # fmt: skip
    if done.returncode != 0:
        raise RuntimeError(f"cannot add the BENCH_AUTH user: {done.stderr.strip()}")


class Launcher:
    """Spawns fresh server processes; every hub start gets its own empty data dir."""

    def __init__(
        self, root: Path, glances_config: Path, refresh_s: int, auth: str | None = None
    ) -> None:
        self.root = root
        self.glances_config = glances_config
        self.refresh_s = refresh_s
        self.auth = auth
        self._n = 0

    def argv(self, key: str, port: int, tag: str) -> list[str]:
        if key == HUB:
            data_dir = self.root / f"hub-data-{tag}"
            data_dir.mkdir(parents=True, exist_ok=False)
            if self.auth:
                add_bench_user(data_dir, self.auth)
            return hub_argv(port, data_dir, self.refresh_s)
        return _glances.glances_argv(port, self.glances_config, refresh_s=self.refresh_s)

    def start(self, key: str, tag: str) -> _procs.Server:
        self._n += 1
        tag = f"{tag}-{self._n}"
        port = _procs.free_port()
        argv = self.argv(key, port, tag)
        return _procs.spawn(key, argv, port=port, log_path=self.root / f"{key}-{tag}.log")

    @contextlib.contextmanager
    def ready(self, key: str, tag: str, timeout_s: float) -> Iterator[tuple[_procs.Server, float]]:
        server = self.start(key, tag)
        try:
            yield server, _procs.wait_ready(server, STATUS_PATH, timeout_s=timeout_s)
        finally:
            _procs.stop(server)


# --------------------------------------------------------------------------------------------
# Measurements
# --------------------------------------------------------------------------------------------


@dataclass
class ServerRound:
    server: str
    round: int
    position: int  # 0: ran first in this round, 1: second
    ready_s: float
    results: dict[str, _wrk.WrkResult] = field(default_factory=dict)
    warmups: dict[str, _wrk.WrkResult] = field(default_factory=dict)
    rss_kib_after: dict[str, int] = field(default_factory=dict)
    hwm_kib: int = 0
    auth: _wrk.WrkResult | None = None
    net_hits: list[str] = field(default_factory=list)
    net_samples: int = 0
    cpu: dict[str, _procs.CpuUsage] = field(default_factory=dict)  # measured runs only

    @property
    def max_other_cores(self) -> float:
        return max((u.other_cores for u in self.cpu.values()), default=0.0)

    @property
    def rss_after_load_kib(self) -> int:
        return max(self.rss_kib_after.values(), default=0)

    def to_json(self) -> dict[str, Any]:
        return {
            "server": self.server,
            "round": self.round,
            "position": self.position,
            "ready_s": self.ready_s,
            "results": {ep: r.to_json() for ep, r in self.results.items()},
            "warmups": {ep: r.to_json() for ep, r in self.warmups.items()},
            "rss_kib_after": self.rss_kib_after,
            "rss_after_load_kib": self.rss_after_load_kib,
            "hwm_kib": self.hwm_kib,
            "auth_cpu": self.auth.to_json() if self.auth else None,
            "non_loopback_sockets": self.net_hits,
            "ss_samples": self.net_samples,
            "cpu_during_load": {ep: u.to_json() for ep, u in self.cpu.items()},
        }


def _load(url: str, s: Settings, duration_s: float, headers: Sequence[str] = ()) -> _wrk.WrkResult:
    return _wrk.run_wrk(
        url,
        threads=s.threads,
        connections=s.connections,
        duration_s=duration_s,
        headers=headers,
    )


def load_round(launcher: Launcher, key: str, rnd: int, pos: int, s: Settings) -> ServerRound:
    """Fresh server; per endpoint: warm-up, measured wrk run, RSS sample."""
    with launcher.ready(key, f"round{rnd}", s.ready_timeout_s) as (server, ready_s):
        out = ServerRound(server=key, round=rnd, position=pos, ready_s=ready_s)
        with _procs.NetWatcher(server.pid) as net:
            for ep in ENDPOINTS:
                url = server.url(ep)
                if s.warmup_s > 0:
                    out.warmups[ep] = _load(url, s, s.warmup_s)
                before = _procs.cpu_snapshot(server.pid)
                res = _load(url, s, s.duration_s)
                out.cpu[ep] = _procs.cpu_usage(before, _procs.cpu_snapshot(server.pid))
                out.results[ep] = res
                out.rss_kib_after[ep] = _procs.rss_kib(server.pid)
                log(
                    f"round {rnd} {key:8s} {ep:20s} {res.requests_per_s:10.1f} req/s"
                    f"  p99 {res.p99_ms:8.2f} ms  rss {out.rss_kib_after[ep] / 1024:6.1f} MiB"
                    f"  other-procs {out.cpu[ep].other_cores:.2f} cores"
                    + (
                        ""
                        if res.clean
                        else f"  UNCLEAN (non-2xx {res.non_2xx_3xx},"
                        f" socket errors {res.socket_errors})"
                    )
                )
                if ep == "/api/4/cpu" and key == HUB and s.auth:
                    header = _wrk.basic_auth_header(s.auth)
                    if s.warmup_s > 0:
                        _load(url, s, s.warmup_s, [header])
                    before = _procs.cpu_snapshot(server.pid)
                    out.auth = _load(url, s, s.duration_s, [header])
                    out.cpu[ep + "+auth"] = _procs.cpu_usage(
                        before, _procs.cpu_snapshot(server.pid)
                    )
                    out.rss_kib_after[ep + "+auth"] = _procs.rss_kib(server.pid)
                    log(
                        f"round {rnd} {key:8s} {ep + ' +auth':20s}"
                        f" {out.auth.requests_per_s:10.1f} req/s  p99 {out.auth.p99_ms:8.2f} ms"
                    )
            out.hwm_kib = _procs.hwm_kib(server.pid)
        out.net_hits = sorted(net.hits)
        out.net_samples = net.samples
        return out


def start_times(launcher: Launcher, s: Settings) -> dict[str, list[float]]:
    """Time from spawn to first 200 on /api/4/status, ``s.starts`` fresh starts per server."""
    out: dict[str, list[float]] = {k: [] for k in s.servers}
    for i in range(s.starts):
        order = s.servers if i % 2 == 0 else tuple(reversed(s.servers))
        for key in order:
            with launcher.ready(key, f"start{i}", s.ready_timeout_s) as (_server, ready_s):
                out[key].append(ready_s)
            log(f"start {i + 1}/{s.starts} {key:8s} first 200 after {ready_s:.3f} s")
    return out


def _sleep_until(t: float, max_s: float) -> None:
    delay = t - time.monotonic()
    if delay > 0:
        time.sleep(min(delay, max_s))


def idle_cpu(launcher: Launcher, key: str, s: Settings) -> dict[str, Any]:
    """CPU-seconds used during an idle window (Glances is polled on /api/4/all every 2 s)."""
    with launcher.ready(key, "idle", s.ready_timeout_s) as (server, _ready_s):
        time.sleep(s.settle_s)  # let start-up work finish before the window opens
        polls = ok = 0
        with _procs.NetWatcher(server.pid, interval_s=2.0) as net:
            snap0 = _procs.cpu_snapshot(server.pid)
            t0 = snap0.wall
            end = t0 + s.idle_s
            if key == GLANCES:
                n_polls = max(1, int(s.idle_s // s.glances_poll_s))
                for i in range(n_polls):
                    _sleep_until(t0 + i * s.glances_poll_s, s.glances_poll_s)
                    polls += 1
                    with contextlib.suppress(OSError):
                        status, _ = _procs.http_get(
                            server.host, server.port, "/api/4/all", timeout_s=s.glances_poll_s * 5
                        )
                        ok += status == 200
            _sleep_until(end, s.idle_s + 1.0)
            usage = _procs.cpu_usage(snap0, _procs.cpu_snapshot(server.pid))
            rss = _procs.rss_kib(server.pid)
    window = usage.wall_s
    per_min = usage.server_s / window * 60.0 if window > 0 else math.nan
    log(
        f"idle {key:8s} {usage.server_s:.2f} CPU-s in {window:.1f} s = {per_min:.3f} CPU-s/min"
        f"  other-procs {usage.other_cores:.2f} cores"
    )
    return {
        "cpu_s": usage.server_s,
        "window_s": window,
        "cpu_s_per_min": per_min,
        "polls": polls,
        "polls_200": ok,
        "rss_kib_idle": rss,
        "non_loopback_sockets": sorted(net.hits),
        "ss_samples": net.samples,
        "machine_cpu": usage.to_json(),
    }


def status_body(launcher: Launcher, key: str, s: Settings) -> str:
    with launcher.ready(key, "status", s.ready_timeout_s) as (server, _):
        try:
            _code, body = _procs.http_get(server.host, server.port, STATUS_PATH)
        except OSError as exc:
            return repr(exc)
        return body.decode("utf-8", "replace")[:200]


# --------------------------------------------------------------------------------------------
# Summary / report
# --------------------------------------------------------------------------------------------


@dataclass
class Summary:
    rps: dict[str, dict[str, float]]  # server -> endpoint -> median req/s
    p99: dict[str, dict[str, float]]  # server -> endpoint -> median p99 ms
    bytes_per_req: dict[str, dict[str, float]]
    rss_kib: dict[str, float]
    start_s: dict[str, float]
    cpu_per_min: dict[str, float]
    auth_rps: float
    auth_p99: float
    auth_ratio: float

    def to_json(self) -> dict[str, Any]:
        return dict(self.__dict__)


def summarize(
    s: Settings,
    rounds: list[ServerRound],
    starts: dict[str, list[float]],
    idle: dict[str, dict[str, Any]],
) -> Summary:
    rps: dict[str, dict[str, float]] = {}
    p99: dict[str, dict[str, float]] = {}
    bpr: dict[str, dict[str, float]] = {}
    for key in (HUB, GLANCES):
        mine = [r for r in rounds if r.server == key]
        rps[key] = {
            ep: _report.median(r.results[ep].requests_per_s for r in mine) for ep in ENDPOINTS
        }
        p99[key] = {ep: _report.median(r.results[ep].p99_ms for r in mine) for ep in ENDPOINTS}
        bpr[key] = {
            ep: _report.median(
                r.results[ep].bytes_read / r.results[ep].requests
                for r in mine
                if r.results[ep].requests
            )
            for ep in ENDPOINTS
        }
    hub_rounds = [r for r in rounds if r.server == HUB and r.auth is not None]
    auth_rps = _report.median(r.auth.requests_per_s for r in hub_rounds if r.auth)
    auth_p99 = _report.median(r.auth.p99_ms for r in hub_rounds if r.auth)
    auth_ratio = _report.median(
        _report.ratio(r.auth.requests_per_s, r.results["/api/4/cpu"].requests_per_s)
        for r in hub_rounds
        if r.auth
    )
    return Summary(
        rps=rps,
        p99=p99,
        bytes_per_req=bpr,
        rss_kib={
            k: _report.median(r.rss_after_load_kib for r in rounds if r.server == k)
            for k in (HUB, GLANCES)
        },
        start_s={k: _report.median(starts.get(k, [])) for k in (HUB, GLANCES)},
        cpu_per_min={
            k: float(idle[k]["cpu_s_per_min"]) if k in idle else math.nan for k in (HUB, GLANCES)
        },
        auth_rps=auth_rps,
        auth_p99=auth_p99,
        auth_ratio=auth_ratio,
    )


def evaluate_targets(sm: Summary, rounds: list[ServerRound]) -> list[_report.TargetResult]:
    def unclean(ep: str) -> str:
        bad = [
            f"round {r.round}: {r.results[ep].non_2xx_3xx} non-2xx, "
            f"{r.results[ep].socket_errors} socket errors"
            for r in rounds
            if r.server == HUB and not r.results[ep].clean
        ]
        return "; ".join(bad)

    def ratio_target(
        ep: str, name: str, extra_ok: bool = True, extra: str = ""
    ) -> _report.TargetResult:
        x = _report.ratio(sm.rps[HUB][ep], sm.rps[GLANCES][ep])
        measured = _report.fmt_ratio(x) + extra
        bad = unclean(ep)
        if bad and math.isfinite(x):
            return _report.TargetResult(name, measured, False, f"hub run invalid: {bad}")
        return _report.check(x, x >= 10.0 and extra_ok, name, measured)

    p99_all = sm.p99[HUB]["/api/4/all"]
    rss_x = _report.ratio(sm.rss_kib[HUB], sm.rss_kib[GLANCES])
    start = sm.start_s[HUB]
    return [
        ratio_target("/api/4/cpu", "GET /api/4/cpu ≥ 10x Glances req/s"),
        ratio_target(
            "/api/4/all",
            "GET /api/4/all ≥ 10x Glances req/s and hub p99 < 25 ms",
            extra_ok=math.isfinite(p99_all) and p99_all < 25.0,
            extra=f", hub p99 {_report.fmt_ms(p99_all)}",
        ),
        ratio_target("/api/4/processlist", "GET /api/4/processlist ≥ 10x Glances req/s"),
        _report.check(
            rss_x,
            rss_x <= 0.8,
            "Hub RSS ≤ 0.8x Glances RSS (after load)",
            f"{_report.fmt_ratio(rss_x)} ({_report.fmt_mib(sm.rss_kib[HUB])}"
            f" vs {_report.fmt_mib(sm.rss_kib[GLANCES])})",
        ),
        _report.check(
            start, start <= 1.5, "Hub first 200 ≤ 1.5 s after spawn", _report.fmt_s(start)
        ),
    ]


def render_markdown(
    s: Settings,
    sm: Summary,
    targets: list[_report.TargetResult],
    env: dict[str, Any],
    rounds: list[ServerRound],
    idle: dict[str, dict[str, Any]],
) -> str:
    dash = "—"
    rows: list[list[str]] = []
    for ep in ENDPOINTS:
        rows.append(
            [
                f"`GET {ep}`",
                _report.fmt_rate(sm.rps[HUB][ep]),
                _report.fmt_rate(sm.rps[GLANCES][ep]),
                _report.fmt_ratio(_report.ratio(sm.rps[HUB][ep], sm.rps[GLANCES][ep])),
                _report.fmt_ms(sm.p99[HUB][ep]),
                _report.fmt_ms(sm.p99[GLANCES][ep]),
            ]
        )
    rows.append(
        [
            "RSS after load (VmRSS, process tree)",
            _report.fmt_mib(sm.rss_kib[HUB]),
            _report.fmt_mib(sm.rss_kib[GLANCES]),
            _report.fmt_ratio(_report.ratio(sm.rss_kib[HUB], sm.rss_kib[GLANCES])),
            dash,
            dash,
        ]
    )
    rows.append(
        [
            f"First 200 on `{STATUS_PATH}` after spawn (median of {s.starts})",
            _report.fmt_s(sm.start_s[HUB]),
            _report.fmt_s(sm.start_s[GLANCES]),
            _report.fmt_ratio(_report.ratio(sm.start_s[HUB], sm.start_s[GLANCES])),
            dash,
            dash,
        ]
    )
    rows.append(
        [
            f"Collector CPU, CPU-s/min ({s.idle_s:g} s idle; Glances polled on `/api/4/all`"
            f" every {s.glances_poll_s:g} s)",
            _report.fmt_num(sm.cpu_per_min[HUB], 3),
            _report.fmt_num(sm.cpu_per_min[GLANCES], 3),
            _report.fmt_ratio(_report.ratio(sm.cpu_per_min[HUB], sm.cpu_per_min[GLANCES])),
            dash,
            dash,
        ]
    )
    if s.auth and HUB in s.servers:
        rows.append(
            [
                "`GET /api/4/cpu` with HTTP Basic (hub only; ratio = auth / anonymous)",
                _report.fmt_rate(sm.auth_rps),
                dash,
                _report.fmt_ratio(sm.auth_ratio),
                _report.fmt_ms(sm.auth_p99),
                dash,
            ]
        )
    main = _report.markdown_table(
        [
            "Endpoint / metric",
            "Hub req/s",
            "Glances req/s",
            "Ratio (hub/Glances)",
            "Hub p99",
            "Glances p99",
        ],
        rows,
    )
    size_rows = [
        [
            f"`GET {ep}`",
            _report.fmt_rate(sm.bytes_per_req[HUB][ep]),
            _report.fmt_rate(sm.bytes_per_req[GLANCES][ep]),
        ]
        for ep in ENDPOINTS
    ]
    sizes = _report.markdown_table(
        ["Response size (bytes/request incl. headers, from wrk)", "Hub", "Glances"], size_rows
    )
    head = (
        f"**Fleetwatch hub vs Glances {env.get('glances_version') or '(not run)'}**, "
        f"{s.rounds} round(s) A/B, `wrk -t{s.threads} -c{s.connections} -d{s.duration_s:g}s"
        f" --latency` after a {s.warmup_s:g} s warm-up per endpoint, medians across rounds. "
        f"{env.get('cpus')} CPUs, {env.get('cpu_model', '')}, {env.get('kernel', '')}, "
        f"{env.get('timestamp')}."
    )
    notes: list[str] = []
    for r in rounds:
        for ep, res in r.results.items():
            if not res.clean:
                notes.append(
                    f"- {LABELS[r.server]} round {r.round} `{ep}`: {res.non_2xx_3xx} non-2xx/3xx,"
                    f" {res.socket_errors} socket errors (timeouts {res.errors_timeout})"
                )
    for key in s.servers:
        hits = sorted(
            {h for r in rounds if r.server == key for h in r.net_hits}
            | set(idle.get(key, {}).get("non_loopback_sockets", []))
        )
        samples = sum(r.net_samples for r in rounds if r.server == key) + int(
            idle.get(key, {}).get("ss_samples", 0)
        )
        notes.append(
            f"- {LABELS[key]}: non-loopback sockets seen by `ss -tunap` ({samples} samples): "
            + ("none" if not hits else "; ".join(f"`{h}`" for h in hits))
        )
    for key in s.servers:
        worst = max((r.max_other_cores for r in rounds if r.server == key), default=0.0)
        idle_other = float(idle.get(key, {}).get("machine_cpu", {}).get("other_cores", 0.0))
        notes.append(
            f"- {LABELS[key]}: CPU used by other processes on the machine (not server, not"
            f" harness/wrk): at most {worst:.2f} cores during a measured load,"
            f" {idle_other:.2f} cores during the idle window"
            + (" - **results are noisy, re-run on a quiet machine**" if worst > 0.2 else "")
            + "."
        )
    load0 = env.get("loadavg_at_start") or (math.nan,) * 3
    load1 = env.get("loadavg_at_end") or (math.nan,) * 3
    notes.append(
        f"- Load average (1/5/15 min) at start {load0[0]:.2f}/{load0[1]:.2f}/{load0[2]:.2f},"
        f" at end {load1[0]:.2f}/{load1[1]:.2f}/{load1[2]:.2f} (other work on the machine"
        " skews results)."
    )
    return "\n\n".join(
        [head, main, _report.targets_table(targets), sizes, "Notes:\n" + "\n".join(notes)]
    )


def environment(glances_version: str) -> dict[str, Any]:
    cpu_model = ""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu_model = line.split(":", 1)[1].strip()
                break
    git_rev = ""
    with contextlib.suppress(OSError, subprocess.TimeoutExpired):
        git_rev = subprocess.run(
            ["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"],
            capture_output=True,
            text=True,
            timeout=10,
            check=False,
        ).stdout.strip()
    return {
        "timestamp": _report.utc_stamp(),
        "cpus": os.cpu_count(),
        "cpu_model": cpu_model,
        "kernel": f"Linux {platform.release()}",
        "python": platform.python_version(),
        "glances_version": glances_version,
        "wrk": _wrk.wrk_version(),
        "git_rev": git_rev,
        "loadavg_at_start": os.getloadavg(),
    }


# --------------------------------------------------------------------------------------------
# Main
# --------------------------------------------------------------------------------------------


def _raise_interrupt(signum: int, _frame: FrameType | None) -> None:
    raise KeyboardInterrupt(f"signal {signum}")


def run(s: Settings) -> tuple[str, dict[str, Any], list[_report.TargetResult]]:
    _wrk.ensure_wrk()
    glances_version = ""
    if GLANCES in s.servers:
        glances_version = _glances.ensure_glances()
    if HUB in s.servers:
        ok, why = hub_available()
        if not ok:
            raise SystemExit(
                f"`{hub_exe()} serve --help` does not work yet ({why}); "
                "use --servers glances to exercise the harness against Glances alone"
            )
    env = environment(glances_version)
    log(f"settings: {s.to_json()}")
    with tempfile.TemporaryDirectory(prefix="fleetwatch-bench-") as tmp:
        root = Path(tmp)
        launcher = Launcher(root, _glances.write_config(root / "glances"), s.refresh_s, s.auth)
        env["status"] = {k: status_body(launcher, k, s) for k in s.servers}

        starts = start_times(launcher, s)

        rounds: list[ServerRound] = []
        for rnd in range(1, s.rounds + 1):
            order = s.servers if rnd % 2 == 1 else tuple(reversed(s.servers))
            for pos, key in enumerate(order):
                rounds.append(load_round(launcher, key, rnd, pos, s))

        idle: dict[str, dict[str, Any]] = {}
        for key in s.servers:
            idle[key] = idle_cpu(launcher, key, s)

    env["loadavg_at_end"] = os.getloadavg()
    sm = summarize(s, rounds, starts, idle)
    targets = evaluate_targets(sm, rounds)
    md = render_markdown(s, sm, targets, env, rounds, idle)
    data: dict[str, Any] = {
        "bench": BENCH_NAME,
        "timestamp": env["timestamp"],
        "settings": s.to_json(),
        "environment": env,
        "commands": {
            "hub": hub_argv(0, Path("TMPDIR"), s.refresh_s),
            "glances": _glances.glances_argv(0, Path("CONFIG"), refresh_s=s.refresh_s),
            "glances_config": _glances.GLANCES_CONFIG,
            "wrk": _wrk.wrk_argv(
                "URL", threads=s.threads, connections=s.connections, duration_s=s.duration_s
            ),
        },
        "summary": sm.to_json(),
        "targets": [t.to_json() for t in targets],
        "start_times_s": starts,
        "idle_cpu": idle,
        "rounds": [r.to_json() for r in rounds],
        "markdown": md,
    }
    return md, data, targets


def main(argv: Sequence[str] | None = None) -> int:
    s = settings_from_args(parse_args(argv))
    previous = signal.signal(signal.SIGTERM, _raise_interrupt)
    try:
        md, data, targets = run(s)
    except KeyboardInterrupt:
        log("interrupted; stopping servers")
        return 130
    finally:
        _procs.kill_all()
        signal.signal(signal.SIGTERM, previous)
    path = _report.write_results(BENCH_NAME, data)
    print(md)
    print(f"\nResults: {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")
    return 1 if s.check and any(t.passed is False for t in targets) else 0


if __name__ == "__main__":
    sys.exit(main())
