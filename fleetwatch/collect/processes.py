"""``processlist``, ``processcount`` and ``programlist``: one walk of the process table a round.

psutil's ``process_iter`` keeps its ``Process`` objects between calls, which is what makes
each process' ``cpu_percent`` a real delta from the previous round.
"""

from __future__ import annotations

import pwd
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import psutil

from fleetwatch.collect.base import CollectContext
from fleetwatch.collect.procfs import ProcfsTable
from fleetwatch.collect.procfs import available as procfs_available
from fleetwatch.model.plugin import PluginSpec, ViewRule

ATTRS = [
    "pid",
    "name",
    "cmdline",
    "uids",
    "num_threads",
    "cpu_percent",
    "memory_info",
    "status",
    "nice",
    "cpu_times",
    "gids",
    "io_counters",
]

PROCESSLIST = PluginSpec(
    name="processlist",
    shape="list",
    key="pid",
    views=(
        ViewRule("cpu_percent", "processlist_cpu"),
        ViewRule("memory_percent", "processlist_mem"),
    ),
)
PROCESSCOUNT = PluginSpec(
    name="processcount", shape="dict", history=("total", "running", "sleeping", "thread")
)
PROGRAMLIST = PluginSpec(name="programlist", shape="list", key="name")


def _named(value: Any) -> dict[str, Any] | None:
    if value is None:
        return None
    return {k: v for k, v in value._asdict().items()}


def _cpu_times(value: Any) -> dict[str, float] | None:
    if value is None:
        return None
    times = value._asdict()
    return {
        "user": times.get("user", 0.0),
        "system": times.get("system", 0.0),
        "children_user": times.get("children_user", 0.0),
        "children_system": times.get("children_system", 0.0),
        "iowait": times.get("iowait", 0.0),
    }


def _user_name(uid: int) -> str:
    try:
        return pwd.getpwuid(uid).pw_name
    except KeyError:
        return str(uid)


def read_pid_max(path: Path = Path("/proc/sys/kernel/pid_max")) -> int:
    try:
        return int(path.read_text().strip())
    except (OSError, ValueError):
        return 0


class ProcessTable:
    """Walks the process table and turns each process into the Glances wire shape."""

    def __init__(
        self,
        process_iter: Callable[..., Iterable[Any]] = psutil.process_iter,
        memory_total: Callable[[], int] = lambda: int(psutil.virtual_memory().total),
    ) -> None:
        self._iter = process_iter
        self._memory_total = max(memory_total(), 1)
        self._users: dict[int, str] = {}
        self._io_previous: dict[int, tuple[int, int]] = {}
        self._last: float | None = None

    def snapshot(self, now: float) -> list[dict[str, Any]]:
        since = 0.0 if self._last is None else round(now - self._last, 3)
        self._last = now
        io_now: dict[int, tuple[int, int]] = {}
        out: list[dict[str, Any]] = []
        for proc in self._iter(attrs=ATTRS, ad_value=None):
            info: dict[str, Any] = proc.info
            pid = int(info["pid"])
            memory = info.get("memory_info")
            io = info.get("io_counters")
            io_list: list[int] | None = None
            if io is not None:
                current = (int(io.read_bytes), int(io.write_bytes))
                io_now[pid] = current
                before = self._io_previous.get(pid)
                io_list = [*current, *(before or current), 1 if before else 0]
            out.append(
                {
                    "key": "pid",
                    "pid": pid,
                    "name": info.get("name") or "",
                    "cmdline": info.get("cmdline") or [],
                    "username": self._username(info.get("uids")),
                    "num_threads": info.get("num_threads"),
                    "cpu_percent": info.get("cpu_percent") or 0.0,
                    "memory_percent": 100.0 * memory.rss / self._memory_total if memory else 0.0,
                    "memory_info": _named(memory),
                    "status": _status_letter(info.get("status")),
                    "nice": info.get("nice"),
                    "cpu_times": _cpu_times(info.get("cpu_times")),
                    "gids": _named(info.get("gids")),
                    "io_counters": io_list,
                    "time_since_update": since,
                }
            )
        self._io_previous = io_now
        out.sort(key=lambda p: (-(p["cpu_percent"] or 0.0), -(p["memory_percent"] or 0.0)))
        return out

    def _username(self, uids: Any) -> str | None:
        # Looked up once per uid: getpwuid reads /etc/passwd on every call.
        if uids is None:
            return None
        uid = int(uids.real)
        name = self._users.get(uid)
        if name is None:
            name = self._users[uid] = _user_name(uid)
        return name


_STATUS_LETTERS = {
    psutil.STATUS_RUNNING: "R",
    psutil.STATUS_SLEEPING: "S",
    psutil.STATUS_DISK_SLEEP: "D",
    psutil.STATUS_STOPPED: "T",
    psutil.STATUS_TRACING_STOP: "t",
    psutil.STATUS_ZOMBIE: "Z",
    psutil.STATUS_DEAD: "X",
    psutil.STATUS_IDLE: "I",
    psutil.STATUS_WAKING: "W",
    psutil.STATUS_PARKED: "P",
}


def _status_letter(status: str | None) -> str | None:
    """Glances shows ps(1)'s one-letter states (``S``, ``R``, ``Z``...)."""
    if status is None:
        return None
    return _STATUS_LETTERS.get(status, status[:1].upper())


class ProcesslistCollector:
    spec = PROCESSLIST

    def __init__(self, table: ProcessTable | ProcfsTable | None = None) -> None:
        # Linux: read /proc directly (several times cheaper); elsewhere, psutil.
        self._table = table or (ProcfsTable() if procfs_available() else ProcessTable())

    def collect(self, ctx: CollectContext) -> list[dict[str, Any]]:
        return self._table.snapshot(ctx.now)


class ProcesscountCollector:
    spec = PROCESSCOUNT

    def __init__(self, pid_max: Callable[[], int] = read_pid_max) -> None:
        self._pid_max = pid_max()

    def collect(self, ctx: CollectContext) -> dict[str, Any]:
        procs: list[dict[str, Any]] = ctx.results.get("processlist") or []
        states = Counter(p["status"] for p in procs)
        return {
            "total": len(procs),
            "running": states.get("R", 0),
            "sleeping": states.get("S", 0) + states.get("I", 0) + states.get("D", 0),
            "thread": sum(p["num_threads"] or 0 for p in procs),
            "pid_max": self._pid_max,
        }


def _add_dicts(a: dict[str, Any] | None, b: dict[str, Any] | None) -> dict[str, Any] | None:
    if a is None:
        return dict(b) if b else None
    if b is None:
        return a
    for k, v in b.items():
        if isinstance(v, int | float):
            a[k] = a.get(k, 0) + v
    return a


class ProgramlistCollector:
    """Processes grouped by name, summed like Glances' ``programlist``."""

    spec = PROGRAMLIST

    def collect(self, ctx: CollectContext) -> list[dict[str, Any]]:
        procs: list[dict[str, Any]] = ctx.results.get("processlist") or []
        programs: dict[str, dict[str, Any]] = {}
        for p in procs:
            name = p["name"]
            prog = programs.get(name)
            if prog is None:
                programs[name] = {
                    "key": "name",
                    "name": name,
                    "childrens": [p["pid"]],
                    "cmdline": [name],
                    "cpu_percent": p["cpu_percent"],
                    "memory_percent": p["memory_percent"],
                    "cpu_times": dict(p["cpu_times"]) if p["cpu_times"] else None,
                    "memory_info": dict(p["memory_info"]) if p["memory_info"] else None,
                    "io_counters": list(p["io_counters"] or []),
                    "num_threads": p["num_threads"] or 0,
                    "nice": p["nice"],
                    "status": p["status"],
                    "username": p["username"],
                    "nprocs": 1,
                    "pid": "_",
                    "time_since_update": p["time_since_update"],
                }
                continue
            prog["childrens"].append(p["pid"])
            prog["cpu_percent"] += p["cpu_percent"]
            prog["memory_percent"] += p["memory_percent"]
            prog["cpu_times"] = _add_dicts(prog["cpu_times"], p["cpu_times"])
            prog["memory_info"] = _add_dicts(prog["memory_info"], p["memory_info"])
            prog["io_counters"].extend(p["io_counters"] or [])
            prog["num_threads"] += p["num_threads"] or 0
            prog["nprocs"] += 1
        return sorted(programs.values(), key=lambda g: -g["cpu_percent"])


def extended_stats(pid: int) -> dict[str, Any]:
    """The extra figures Glances shows for the one process picked with processes/extended."""
    proc = psutil.Process(pid)
    out: dict[str, Any] = {"extended_stats": True}
    with proc.oneshot():
        for name, call in (
            ("memory_full_info", lambda: _named(proc.memory_full_info())),
            ("num_ctx_switches", lambda: _named(proc.num_ctx_switches())),
            ("num_fds", proc.num_fds),
            ("cpu_affinity", proc.cpu_affinity),
            ("ionice", lambda: _named(proc.ionice())),
            ("cwd", proc.cwd),
            ("tcp", lambda: len(proc.net_connections(kind="tcp"))),
            ("udp", lambda: len(proc.net_connections(kind="udp"))),
        ):
            try:
                out[name] = call()
            except (psutil.AccessDenied, psutil.ZombieProcess, NotImplementedError, OSError):
                out[name] = None
    return out
