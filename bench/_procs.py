"""Process helpers for benchmarks: spawn, wait until ready, stop, RSS and CPU-seconds.

Everything here is Linux-only (it reads ``/proc``) and talks to servers on loopback only.
All loops are bounded both in iterations and in wall-clock time.
"""

from __future__ import annotations

import contextlib
import http.client
import os
import resource
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

LOOPBACK = "127.0.0.1"
CLK_TCK = os.sysconf("SC_CLK_TCK")

# Every process spawned through this module, so that kill_all() can clean up on any exit path.
_LIVE: dict[int, subprocess.Popen[bytes]] = {}
_LIVE_LOCK = threading.Lock()


class ServerExitedError(RuntimeError):
    """The server process exited before it became ready."""


class NotReadyError(TimeoutError):
    """The server did not answer 200 before the deadline."""


def free_port(host: str = LOOPBACK) -> int:
    """Return a currently free TCP port on ``host`` (bind to port 0 and let the kernel pick)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        port: int = sock.getsockname()[1]
        return port


@dataclass
class Server:
    """A spawned server process (its own session / process group)."""

    name: str
    argv: list[str]
    proc: subprocess.Popen[bytes]
    port: int
    log_path: Path
    spawned_at: float  # time.monotonic() right before Popen
    host: str = LOOPBACK
    extra: dict[str, str] = field(default_factory=dict)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def url(self, path: str) -> str:
        return f"http://{self.host}:{self.port}{path}"

    def log_tail(self, max_bytes: int = 4000) -> str:
        try:
            data = self.log_path.read_bytes()
        except OSError:
            return ""
        return data[-max_bytes:].decode("utf-8", "replace")


def spawn(
    name: str,
    argv: Sequence[str],
    *,
    port: int,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Server:
    """Start ``argv`` in a new session with stdout/stderr going to ``log_path``."""
    log_path.parent.mkdir(parents=True, exist_ok=True)
    full_env = dict(os.environ)
    if env:
        full_env.update(env)
    with log_path.open("ab") as log:
        spawned_at = time.monotonic()
        proc = subprocess.Popen(
            list(argv),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            env=full_env,
            cwd=cwd,
            start_new_session=True,
        )
    with _LIVE_LOCK:
        _LIVE[proc.pid] = proc
    return Server(
        name=name,
        argv=list(argv),
        proc=proc,
        port=port,
        log_path=log_path,
        spawned_at=spawned_at,
    )


def http_get(
    host: str,
    port: int,
    path: str,
    *,
    timeout_s: float = 5.0,
    headers: Mapping[str, str] | None = None,
) -> tuple[int, bytes]:
    """One plain HTTP/1.1 GET; returns (status, body). Raises OSError on connection problems."""
    conn = http.client.HTTPConnection(host, port, timeout=timeout_s)
    try:
        conn.request("GET", path, headers=dict(headers or {}))
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def wait_ready(
    server: Server,
    path: str = "/api/4/status",
    *,
    timeout_s: float = 30.0,
    interval_s: float = 0.01,
) -> float:
    """Poll ``GET path`` every ``interval_s`` until it answers 200.

    Returns the seconds elapsed since the process was spawned. Raises ServerExitedError if the
    process dies first and NotReadyError at the deadline.
    """
    deadline = server.spawned_at + timeout_s
    max_attempts = int(timeout_s / max(interval_s, 0.001)) + 1
    last_error = "no attempt"
    for _ in range(max_attempts):
        if server.proc.poll() is not None:
            raise ServerExitedError(
                f"{server.name} exited with {server.proc.returncode} before becoming ready;"
                f" log tail:\n{server.log_tail()}"
            )
        try:
            status, _body = http_get(server.host, server.port, path, timeout_s=1.0)
        except (OSError, http.client.HTTPException) as exc:
            last_error = repr(exc)
        else:
            if status == 200:
                return time.monotonic() - server.spawned_at
            last_error = f"HTTP {status}"
        if time.monotonic() >= deadline:
            break
        time.sleep(interval_s)
    raise NotReadyError(
        f"{server.name} not ready after {timeout_s:.0f}s ({last_error}); log tail:\n"
        f"{server.log_tail()}"
    )


def _signal_tree(pid: int, sig: signal.Signals) -> None:
    pids = [pid, *descendants(pid)]
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(pid, sig)  # spawn() uses start_new_session, so pgid == pid
    for p in pids:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.kill(p, sig)


def stop_process(proc: subprocess.Popen[bytes], *, grace_s: float = 10.0) -> int | None:
    """SIGTERM the process group (and any descendant that left it), then SIGKILL after grace."""
    try:
        if proc.poll() is None:
            _signal_tree(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=grace_s)
            except subprocess.TimeoutExpired:
                _signal_tree(proc.pid, signal.SIGKILL)
                with contextlib.suppress(subprocess.TimeoutExpired):
                    proc.wait(timeout=5.0)
        else:
            # Leader gone: make sure nothing of its group survives.
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(proc.pid, signal.SIGKILL)
        return proc.returncode
    finally:
        with _LIVE_LOCK:
            _LIVE.pop(proc.pid, None)


def stop(server: Server, *, grace_s: float = 10.0) -> int | None:
    return stop_process(server.proc, grace_s=grace_s)


def kill_all() -> None:
    """Stop every process spawned through this module that is still registered."""
    with _LIVE_LOCK:
        procs = list(_LIVE.values())
    for proc in procs:
        stop_process(proc, grace_s=5.0)


@contextlib.contextmanager
def running(
    name: str,
    argv: Sequence[str],
    *,
    port: int,
    log_path: Path,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> Iterator[Server]:
    """Context manager: spawn a server and always stop it on exit."""
    server = spawn(name, argv, port=port, log_path=log_path, env=env, cwd=cwd)
    try:
        yield server
    finally:
        stop(server)


# --------------------------------------------------------------------------------------------
# /proc readers
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class ProcStat:
    pid: int
    ppid: int
    utime: int  # clock ticks
    stime: int
    cutime: int  # reaped children
    cstime: int


def read_stat(pid: int) -> ProcStat | None:
    """Parse /proc/PID/stat (None if the process is gone)."""
    try:
        raw = Path(f"/proc/{pid}/stat").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return None
    # comm may contain spaces/parentheses: split after the last ')'.
    rest = raw[raw.rindex(")") + 2 :].split()
    # rest[0] is field 3 (state): ppid=4, utime=14, stime=15, cutime=16, cstime=17.
    return ProcStat(
        pid=pid,
        ppid=int(rest[1]),
        utime=int(rest[11]),
        stime=int(rest[12]),
        cutime=int(rest[13]),
        cstime=int(rest[14]),
    )


def _all_ppids() -> dict[int, int]:
    out: dict[int, int] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        st = read_stat(int(entry.name))
        if st is not None:
            out[st.pid] = st.ppid
    return out


def descendants(pid: int) -> list[int]:
    """All live descendants of ``pid`` (children, grandchildren, ...)."""
    children: dict[int, list[int]] = {}
    for child, parent in _all_ppids().items():
        children.setdefault(parent, []).append(child)
    out: list[int] = []
    stack = list(children.get(pid, []))
    for _ in range(100_000):  # bounded walk
        if not stack:
            break
        p = stack.pop()
        out.append(p)
        stack.extend(children.get(p, []))
    return out


def tree(pid: int, *, include_children: bool = True) -> list[int]:
    return [pid, *descendants(pid)] if include_children else [pid]


def _status_kib(pid: int, key: str) -> int:
    try:
        text = Path(f"/proc/{pid}/status").read_text()
    except (FileNotFoundError, ProcessLookupError):
        return 0
    for line in text.splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])  # always reported in kB
    return 0  # kernel threads / zombies have no VmRSS


def rss_kib(pid: int, *, include_children: bool = True) -> int:
    """VmRSS in KiB, summed over the process tree when ``include_children``.

    Shared pages of forked children are counted once per process, so the tree sum is an upper
    bound of the real footprint.
    """
    return sum(_status_kib(p, "VmRSS") for p in tree(pid, include_children=include_children))


def hwm_kib(pid: int, *, include_children: bool = True) -> int:
    """VmHWM (peak RSS) in KiB, summed over the process tree."""
    return sum(_status_kib(p, "VmHWM") for p in tree(pid, include_children=include_children))


def cpu_seconds(pid: int, *, include_children: bool = True) -> float:
    """utime+stime of the process (all threads) in seconds.

    With ``include_children``: plus every live descendant, plus cutime+cstime (the CPU time of
    children that already exited and were reaped), so deltas stay correct when children come
    and go during a measurement window.
    """
    ticks = 0
    for p in tree(pid, include_children=include_children):
        st = read_stat(p)
        if st is None:
            continue
        ticks += st.utime + st.stime
        if include_children:
            ticks += st.cutime + st.cstime
    return ticks / CLK_TCK


def system_busy_seconds() -> float:
    """Machine-wide non-idle CPU time (all CPUs) from the first line of /proc/stat."""
    fields = [int(v) for v in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:9]]
    # user nice system idle iowait irq softirq steal (guest time is already inside user)
    return (sum(fields) - fields[3] - fields[4]) / CLK_TCK


def harness_cpu_seconds() -> float:
    """CPU time of this process plus its waited-for children (wrk, ss, ...)."""
    me = resource.getrusage(resource.RUSAGE_SELF)
    ch = resource.getrusage(resource.RUSAGE_CHILDREN)
    return me.ru_utime + me.ru_stime + ch.ru_utime + ch.ru_stime


@dataclass(frozen=True)
class CpuSnapshot:
    wall: float
    system_busy: float
    server: float
    harness: float


def cpu_snapshot(pid: int) -> CpuSnapshot:
    return CpuSnapshot(
        wall=time.monotonic(),
        system_busy=system_busy_seconds(),
        server=cpu_seconds(pid),
        harness=harness_cpu_seconds(),
    )


@dataclass(frozen=True)
class CpuUsage:
    """Where the machine's CPU went between two snapshots.

    ``other_s`` is what neither the server tree nor the harness (incl. wrk) used: other
    processes on the machine, i.e. noise. ``other_cores`` is that divided by the wall time.
    """

    wall_s: float
    system_busy_s: float
    server_s: float
    harness_s: float

    @property
    def other_s(self) -> float:
        return max(0.0, self.system_busy_s - self.server_s - self.harness_s)

    @property
    def other_cores(self) -> float:
        return self.other_s / self.wall_s if self.wall_s > 0 else 0.0

    def to_json(self) -> dict[str, float]:
        return {
            "wall_s": self.wall_s,
            "system_busy_s": self.system_busy_s,
            "server_s": self.server_s,
            "harness_s": self.harness_s,
            "other_s": self.other_s,
            "other_cores": self.other_cores,
        }


def cpu_usage(a: CpuSnapshot, b: CpuSnapshot) -> CpuUsage:
    return CpuUsage(
        wall_s=b.wall - a.wall,
        system_busy_s=b.system_busy - a.system_busy,
        server_s=b.server - a.server,
        harness_s=b.harness - a.harness,
    )


# --------------------------------------------------------------------------------------------
# Network check: which non-loopback sockets does a process tree hold?
# --------------------------------------------------------------------------------------------

_LOOPBACK_PREFIXES = ("127.", "[::1]", "::1", "[::ffff:127.", "*", "0.0.0.0", "[::]")


def _is_loopback_or_wildcard(addr_port: str) -> bool:
    host = addr_port.rsplit(":", 1)[0]
    return host.startswith(_LOOPBACK_PREFIXES) or host in {"", "*"}


def non_loopback_sockets(pids: Sequence[int]) -> list[str]:
    """``ss -tunapH`` lines owned by ``pids`` whose local or peer address is not loopback."""
    try:
        out = subprocess.run(
            ["ss", "-tunapH"], capture_output=True, text=True, timeout=5.0, check=False
        ).stdout
    except (OSError, subprocess.TimeoutExpired):
        return []
    wanted = {f"pid={p}," for p in pids}
    hits: list[str] = []
    for line in out.splitlines():
        if not any(w in line for w in wanted):
            continue
        cols = line.split()
        # Netid State Recv-Q Send-Q Local Peer Process
        if len(cols) < 6:
            continue
        local, peer = cols[4], cols[5]
        if not (_is_loopback_or_wildcard(local) and _is_loopback_or_wildcard(peer)):
            hits.append(" ".join(cols))
    return hits


class NetWatcher:
    """Background sampler of ``ss`` for a process tree; collects non-loopback sockets.

    Use as a context manager around the lifetime of a server. Bounded by ``max_samples``.
    """

    def __init__(self, pid: int, *, interval_s: float = 0.5, max_samples: int = 20_000) -> None:
        self.pid = pid
        self.interval_s = interval_s
        self.max_samples = max_samples
        self.samples = 0
        self.hits: set[str] = set()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"netwatch-{pid}", daemon=True)

    def _run(self) -> None:
        for _ in range(self.max_samples):
            if self._stop.is_set():
                break
            self.hits.update(non_loopback_sockets(tree(self.pid)))
            self.samples += 1
            self._stop.wait(self.interval_s)

    def __enter__(self) -> NetWatcher:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(timeout=10.0)
