"""Run ``wrk`` and parse its text output (``--latency``) into a :class:`WrkResult`.

Reusable by every HTTP benchmark under bench/. Latencies are in milliseconds.
"""

from __future__ import annotations

import base64
import math
import os
import re
import shutil
import subprocess
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

_TIME_UNITS_MS = {"us": 1e-3, "ms": 1.0, "s": 1e3, "m": 60e3, "h": 3600e3}
_SIZE_UNITS = {"B": 1, "KB": 1024, "MB": 1024**2, "GB": 1024**3, "TB": 1024**4}
_COUNT_UNITS = {"": 1.0, "k": 1e3, "M": 1e6, "G": 1e9}

_NUM = r"([0-9]+(?:\.[0-9]+)?)"
_RE_LAT_STATS = re.compile(
    rf"^\s*Latency\s+{_NUM}(us|ms|s|m|h)\s+{_NUM}(us|ms|s|m|h)\s+{_NUM}(us|ms|s|m|h)", re.M
)
_RE_PCT = re.compile(rf"^\s*{_NUM}%\s+{_NUM}(us|ms|s|m|h)\s*$", re.M)
_RE_TOTAL = re.compile(
    rf"^\s*([0-9]+) requests in {_NUM}(us|ms|s|m|h), {_NUM}(B|KB|MB|GB|TB) read", re.M
)
_RE_RPS = re.compile(rf"^Requests/sec:\s+{_NUM}", re.M)
_RE_SOCK = re.compile(
    r"Socket errors: connect ([0-9]+), read ([0-9]+), write ([0-9]+), timeout ([0-9]+)"
)
_RE_NON2XX = re.compile(r"Non-2xx or 3xx responses: ([0-9]+)")


class WrkError(RuntimeError):
    """wrk failed to run or its output could not be parsed."""


@dataclass(frozen=True)
class WrkResult:
    url: str
    requests_per_s: float
    requests: int
    duration_s: float
    bytes_read: int
    latency_avg_ms: float
    latency_stdev_ms: float
    latency_max_ms: float
    percentiles_ms: dict[str, float]  # "50", "75", "90", "99" -> ms
    errors_connect: int = 0
    errors_read: int = 0
    errors_write: int = 0
    errors_timeout: int = 0
    non_2xx_3xx: int = 0
    argv: list[str] = field(default_factory=list)
    raw: str = ""

    def pct(self, p: float) -> float:
        key = f"{p:g}"
        return self.percentiles_ms.get(key, math.nan)

    @property
    def p50_ms(self) -> float:
        return self.pct(50)

    @property
    def p99_ms(self) -> float:
        return self.pct(99)

    @property
    def socket_errors(self) -> int:
        return self.errors_connect + self.errors_read + self.errors_write + self.errors_timeout

    @property
    def clean(self) -> bool:
        """No socket errors and only 2xx/3xx answers."""
        return self.socket_errors == 0 and self.non_2xx_3xx == 0 and self.requests > 0

    def to_json(self, *, with_raw: bool = False) -> dict[str, Any]:
        d = asdict(self)
        if not with_raw:
            d.pop("raw")
        d["p99_ms"] = self.p99_ms
        d["clean"] = self.clean
        return d


def _ms(value: str, unit: str) -> float:
    return float(value) * _TIME_UNITS_MS[unit]


def parse_wrk_output(text: str, *, url: str = "", argv: Sequence[str] = ()) -> WrkResult:
    """Parse wrk's stdout. Requires ``--latency`` for the percentile lines."""
    rps = _RE_RPS.search(text)
    total = _RE_TOTAL.search(text)
    if rps is None or total is None:
        raise WrkError(f"cannot parse wrk output:\n{text}")
    lat = _RE_LAT_STATS.search(text)
    if lat is not None:
        avg, stdev, mx = (_ms(lat.group(i), lat.group(i + 1)) for i in (1, 3, 5))
    else:
        avg = stdev = mx = math.nan
    pcts = {f"{float(m.group(1)):g}": _ms(m.group(2), m.group(3)) for m in _RE_PCT.finditer(text)}
    sock = _RE_SOCK.search(text)
    errs = [int(sock.group(i)) for i in range(1, 5)] if sock else [0, 0, 0, 0]
    non2 = _RE_NON2XX.search(text)
    return WrkResult(
        url=url,
        requests_per_s=float(rps.group(1)),
        requests=int(total.group(1)),
        duration_s=_ms(total.group(2), total.group(3)) / 1e3,
        bytes_read=int(float(total.group(4)) * _SIZE_UNITS[total.group(5)]),
        latency_avg_ms=avg,
        latency_stdev_ms=stdev,
        latency_max_ms=mx,
        percentiles_ms=pcts,
        errors_connect=errs[0],
        errors_read=errs[1],
        errors_write=errs[2],
        errors_timeout=errs[3],
        non_2xx_3xx=int(non2.group(1)) if non2 else 0,
        argv=list(argv),
        raw=text,
    )


def basic_auth_header(credentials: str) -> str:
    """``user:password`` -> ``Authorization: Basic ...`` header line for wrk ``-H``."""
    token = base64.b64encode(credentials.encode()).decode("ascii")
    return f"Authorization: Basic {token}"


def wrk_argv(
    url: str,
    *,
    threads: int = 2,
    connections: int = 10,
    duration_s: float = 10.0,
    timeout_s: float | None = None,
    headers: Sequence[str] = (),
    wrk: str = "wrk",
) -> list[str]:
    argv = [wrk, f"-t{threads}", f"-c{connections}", f"-d{duration_s:g}s", "--latency"]
    if timeout_s is not None:
        argv.append(f"--timeout={timeout_s:g}s")
    for h in headers:
        argv += ["-H", h]
    argv.append(url)
    return argv


def run_wrk(
    url: str,
    *,
    threads: int = 2,
    connections: int = 10,
    duration_s: float = 10.0,
    timeout_s: float | None = None,
    headers: Sequence[str] = (),
    wrk: str = "wrk",
) -> WrkResult:
    """Run wrk against ``url`` (loopback only) and parse the result."""
    if not url.startswith(("http://127.", "http://[::1]", "http://localhost")):
        raise WrkError(f"refusing to load a non-loopback URL: {url}")
    argv = wrk_argv(
        url,
        threads=threads,
        connections=connections,
        duration_s=duration_s,
        timeout_s=timeout_s,
        headers=headers,
        wrk=wrk,
    )
    try:
        proc = subprocess.run(
            argv, capture_output=True, text=True, timeout=duration_s + 30.0, check=False
        )
    except subprocess.TimeoutExpired as exc:
        raise WrkError(f"wrk did not finish: {' '.join(argv)}") from exc
    if proc.returncode != 0:
        raise WrkError(f"wrk exited {proc.returncode}: {proc.stderr.strip()}\n{proc.stdout}")
    return parse_wrk_output(proc.stdout, url=url, argv=argv)


def wrk_version(wrk: str = "wrk") -> str:
    try:
        proc = subprocess.run([wrk, "-v"], capture_output=True, text=True, timeout=10, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return "unknown"
    first = (proc.stdout or proc.stderr).strip().splitlines()
    return first[0] if first else "unknown"


def ensure_wrk() -> str:
    """Return the wrk path, installing it with ``apt-get install -y wrk`` if missing.

    ``apt-get update`` is only run when the first install attempt fails.
    """
    found = shutil.which("wrk")
    if found:
        return found
    cmd = ["apt-get", "install", "-y", "wrk"]
    env_noninteractive = {"DEBIAN_FRONTEND": "noninteractive"}
    first = _run_quiet(cmd, env_noninteractive)
    if first != 0:
        _run_quiet(["apt-get", "update"], env_noninteractive)
        if _run_quiet(cmd, env_noninteractive) != 0:
            raise WrkError("could not install wrk with apt-get (are you root?)")
    found = shutil.which("wrk")
    if not found:
        raise WrkError("wrk still not on PATH after apt-get install")
    return found


def _run_quiet(argv: list[str], extra_env: dict[str, str]) -> int:
    env = {**os.environ, **extra_env}
    try:
        return subprocess.run(
            argv, env=env, capture_output=True, timeout=600, check=False
        ).returncode
    except (OSError, subprocess.TimeoutExpired):
        return 1
