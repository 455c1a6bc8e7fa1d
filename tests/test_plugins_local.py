"""Every collector run against this machine with its real source, checked against what the OS says.

One module-scoped fixture runs two collection rounds, the second from a worker thread as the
live loop does, with one core kept busy in between: CPU percentages and rates are then real.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import pwd
import re
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import psutil
import pytest

import fleetwatch
from fleetwatch.collect.base import CollectContext, Collector
from fleetwatch.collect.cpu import CpuCollector
from fleetwatch.collect.registry import PLUGIN_NAMES, build_collectors
from fleetwatch.model.limits import default_limits

pytestmark = pytest.mark.skipif(not Path("/proc/meminfo").exists(), reason="needs Linux /proc")

CPU_SUM_FIELDS = ("user", "nice", "system", "idle", "iowait", "irq", "steal")
NCPU = os.cpu_count() or 1
BURN_SECONDS = 0.6


def burn(seconds: float) -> None:
    """Keep one core busy (the GIL keeps it to one)."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass


def collect_round(collectors: list[Collector]) -> dict[str, Any]:
    ctx = CollectContext(now=time.time(), limits=default_limits(list(PLUGIN_NAMES), 1200))
    for collector in collectors:
        ctx.results[collector.spec.name] = collector.collect(ctx)
    return ctx.results


def busy_between(first: Callable[[], Any], second: Callable[[], Any]) -> Any:
    """``first()``, a busy core for BURN_SECONDS, then ``second()`` from a worker thread."""
    first()
    burner = threading.Thread(target=burn, args=(BURN_SECONDS,))
    burner.start()
    burner.join()
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(second).result()


@pytest.fixture(scope="module")
def stats() -> dict[str, Any]:
    collectors = build_collectors()
    results: dict[str, Any] = busy_between(
        lambda: collect_round(collectors), lambda: collect_round(collectors)
    )
    return results


def meminfo_kib(name: str) -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        key, _, rest = line.partition(":")
        if key == name:
            return int(rest.split()[0])
    raise AssertionError(f"{name} not in /proc/meminfo")


def test_every_plugin_answers_in_its_declared_shape(stats: dict[str, Any]) -> None:
    assert set(stats) == set(PLUGIN_NAMES)
    for collector in build_collectors():
        value = stats[collector.spec.name]
        expected = {"list": list, "dict": dict}.get(collector.spec.shape)
        if expected is not None:
            assert isinstance(value, expected), collector.spec.name
        else:
            assert value is None or isinstance(value, str), collector.spec.name


def test_mem_matches_proc_meminfo(stats: dict[str, Any]) -> None:
    mem = stats["mem"]

    assert mem["total"] == meminfo_kib("MemTotal") * 1024
    assert mem["free"] == mem["available"]
    assert mem["used"] == mem["total"] - mem["available"]
    assert abs(mem["available"] - meminfo_kib("MemAvailable") * 1024) < mem["total"] * 0.05
    assert 0.0 <= mem["percent"] <= 100.0
    assert mem["percent"] == pytest.approx(100.0 * mem["used"] / mem["total"], abs=1.0)


def test_memswap_matches_proc_meminfo(stats: dict[str, Any]) -> None:
    swap = stats["memswap"]

    assert swap["total"] == meminfo_kib("SwapTotal") * 1024
    assert swap["time_since_update"] > 0
    assert swap["sin"] >= 0
    assert swap["sout"] >= 0


def test_core_counts(stats: dict[str, Any]) -> None:
    assert stats["core"]["log"] == NCPU
    assert 1 <= stats["core"]["phys"] <= NCPU


def test_load_matches_getloadavg(stats: dict[str, Any]) -> None:
    load = stats["load"]
    now = os.getloadavg()

    assert load["min1"] == pytest.approx(now[0], abs=0.5)
    assert load["min5"] == pytest.approx(now[1], abs=0.5)
    assert load["min15"] == pytest.approx(now[2], abs=0.5)
    assert load["cpucore"] == NCPU


def test_system_names_this_host(stats: dict[str, Any]) -> None:
    system = stats["system"]

    assert system["hostname"] == socket.gethostname()
    assert system["os_name"] == "Linux"
    assert system["os_version"] == os.uname().release
    assert system["hr_name"].endswith(f"/ Linux {os.uname().release}")
    assert system["platform"] in {"64bit", "32bit"}


def root_is_a_device_mount() -> bool:
    nodev = {
        line.split()[-1]
        for line in Path("/proc/filesystems").read_text().splitlines()
        if line.startswith("nodev")
    }
    root = [line.split() for line in Path("/proc/self/mounts").read_text().splitlines()]
    fstypes = [cols[2] for cols in root if len(cols) > 2 and cols[1] == "/"]
    return bool(fstypes) and fstypes[-1] not in nodev


def test_fs_has_the_root_file_system_with_its_size(stats: dict[str, Any]) -> None:
    if not root_is_a_device_mount():
        pytest.skip("/ is not a device-backed mount here (container overlay)")
    by_mount = {item["mnt_point"]: item for item in stats["fs"]}
    st = os.statvfs("/")

    root = by_mount["/"]
    assert root["key"] == "mnt_point"
    assert root["size"] == st.f_blocks * st.f_frsize
    assert 0.0 <= root["percent"] <= 100.0
    assert root["used"] + root["free"] <= root["size"]
    assert len(by_mount) == len(stats["fs"])  # each mount point once


def test_diskio_items_carry_key_and_counters(stats: dict[str, Any]) -> None:
    known = set(psutil.disk_io_counters(perdisk=True) or {})
    for item in stats["diskio"]:
        assert item["key"] == "disk_name"
        assert item["disk_name"] in known
        for name in ("read_count", "write_count", "read_bytes", "write_bytes"):
            assert isinstance(item[name], int)
            assert item[name] >= 0


def test_network_shows_up_interfaces_with_an_address(stats: dict[str, Any]) -> None:
    with_ip = {
        name
        for name, addrs in psutil.net_if_addrs().items()
        if any(a.family in (socket.AF_INET, socket.AF_INET6) for a in addrs)
    }
    down = {name for name, st in psutil.net_if_stats().items() if not st.isup}
    shown = {item["interface_name"] for item in stats["network"]}

    assert shown <= with_ip
    assert not shown & down
    for item in stats["network"]:
        assert item["key"] == "interface_name"
        assert item["bytes_all"] == item["bytes_recv"] + item["bytes_sent"]
        assert item["bytes_recv"] >= 0
        assert item["speed"] >= 0
        assert item["is_up"] in (True, None)


def test_processlist_contains_this_process(stats: dict[str, Any]) -> None:
    procs = {p["pid"]: p for p in stats["processlist"]}
    cmdline = Path("/proc/self/cmdline").read_bytes().decode().split("\0")[:-1]

    me = procs[os.getpid()]
    assert me["key"] == "pid"
    assert me["cmdline"] == cmdline
    assert me["username"] == pwd.getpwuid(os.getuid()).pw_name
    assert me["num_threads"] >= 1
    assert me["memory_info"]["rss"] > 0
    assert me["status"] in {"R", "S", "D"}
    assert me["time_since_update"] > 0


def test_processlist_sorted_by_cpu_percent(stats: dict[str, Any]) -> None:
    cpu = [p["cpu_percent"] for p in stats["processlist"]]

    assert cpu == sorted(cpu, reverse=True)
    # This process burnt a core between the two rounds: it shows real CPU use.
    me = next(p for p in stats["processlist"] if p["pid"] == os.getpid())
    assert me["cpu_percent"] > 10.0


def test_processcount_counts_the_processlist(stats: dict[str, Any]) -> None:
    count = stats["processcount"]
    procs = stats["processlist"]

    assert count["total"] == len(procs)
    assert count["running"] + count["sleeping"] <= count["total"]
    assert count["thread"] >= count["total"]
    assert count["pid_max"] == int(Path("/proc/sys/kernel/pid_max").read_text())
    assert abs(count["total"] - len(psutil.pids())) < 50


def test_programlist_groups_processes_by_name(stats: dict[str, Any]) -> None:
    programs = stats["programlist"]
    procs = stats["processlist"]
    names = [p["name"] for p in programs]

    assert len(names) == len(set(names))
    assert sum(p["nprocs"] for p in programs) == stats["processcount"]["total"]
    for program in programs:
        members = [p for p in procs if p["name"] == program["name"]]
        assert program["key"] == "name"
        assert program["nprocs"] == len(members)
        assert sorted(program["childrens"]) == sorted(p["pid"] for p in members)


def test_percpu_has_one_item_per_cpu(stats: dict[str, Any]) -> None:
    percpu = stats["percpu"]

    assert [item["cpu_number"] for item in percpu] == list(range(NCPU))
    for item in percpu:
        assert item["key"] == "cpu_number"
        fields = ("user", "nice", "system", "idle", "iowait", "irq", "softirq", "steal")
        assert all(0.0 <= item[f] <= 100.0 for f in fields)
        assert sum(item[f] for f in fields) == pytest.approx(100.0, abs=1.5)
    # One core's worth of work, wherever the scheduler put it.
    assert sum(item["total"] for item in percpu) >= 60.0


def test_cpu_percentages_add_up(stats: dict[str, Any]) -> None:
    cpu = stats["cpu"]

    for name in (*CPU_SUM_FIELDS, "total", "guest"):
        assert 0.0 <= cpu[name] <= 100.0, name
    assert sum(cpu[f] for f in CPU_SUM_FIELDS) == pytest.approx(100.0, abs=1.5)
    assert cpu["total"] == pytest.approx(100.0 - cpu["idle"], abs=0.2)
    assert cpu["cpucore"] == NCPU
    assert cpu["ctx_switches"] > 0
    assert cpu["interrupts"] > 0


def test_cpu_total_is_real_after_a_busy_core() -> None:
    # psutil's cpu_percent() keeps its baseline per thread: Glances answered 0.0 here.
    collector = CpuCollector()
    ctx = CollectContext(now=time.time(), limits=default_limits(["cpu"], 1200))

    cpu: dict[str, Any] = busy_between(
        lambda: collector.collect(ctx), lambda: collector.collect(ctx)
    )

    assert cpu["total"] >= min(20.0, 60.0 / NCPU)
    assert cpu["user"] > 0.0


def test_uptime_text_matches_proc_uptime(stats: dict[str, Any]) -> None:
    text = stats["uptime"]
    match = re.fullmatch(r"(?:(\d+) days?, )?(\d{1,2}):(\d{2}):(\d{2})", text)

    assert match is not None, text
    days, hours, minutes, seconds = (int(g or 0) for g in match.groups())
    shown = ((days * 24 + hours) * 60 + minutes) * 60 + seconds
    actual = float(Path("/proc/uptime").read_text().split()[0])
    assert shown == pytest.approx(actual, abs=5)


def test_now_is_an_aware_iso_time(stats: dict[str, Any]) -> None:
    now = stats["now"]
    parsed = dt.datetime.fromisoformat(now["iso"])

    assert parsed.tzinfo is not None
    assert abs(parsed.timestamp() - time.time()) < 60
    assert now["custom"].startswith(parsed.strftime("%Y-%m-%d %H:%M:%S"))


def test_versions(stats: dict[str, Any]) -> None:
    assert stats["version"] == fleetwatch.__version__
    assert stats["psutilversion"] == psutil.__version__
    assert stats["help"]["version"] == f"Fleetwatch {fleetwatch.__version__}"


def test_connections_from_proc_net(stats: dict[str, Any]) -> None:
    conn = stats["connections"]

    assert conn["net_connections_enabled"] is True
    for key in ("LISTEN", "ESTABLISHED", "SYN_SENT", "SYN_RECV", "initiated", "terminated"):
        assert isinstance(conn[key], int)
        assert conn[key] >= 0
    assert conn["initiated"] == conn["SYN_SENT"] + conn["SYN_RECV"]
    assert isinstance(conn["nf_conntrack_enabled"], bool)
    if conn["nf_conntrack_enabled"]:
        expected = 100.0 * conn["nf_conntrack_count"] / conn["nf_conntrack_max"]
        assert conn["nf_conntrack_percent"] == pytest.approx(expected)


def test_connections_sees_a_listening_socket() -> None:
    collector = next(c for c in build_collectors() if c.spec.name == "connections")
    ctx = CollectContext(now=time.time(), limits={})
    before = collector.collect(ctx)["LISTEN"]
    servers = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(5)]
    try:
        for server in servers:
            server.bind(("127.0.0.1", 0))
            server.listen()
        during = collector.collect(ctx)["LISTEN"]
    finally:
        for server in servers:
            server.close()

    # Five more listeners; a little room for other programs closing theirs meanwhile.
    assert during >= before + 3


def test_irq_items_shape(stats: dict[str, Any]) -> None:
    if not os.access("/proc/interrupts", os.R_OK):
        pytest.skip("/proc/interrupts is not readable here")
    irq = stats["irq"]

    # A second round with time elapsed: at least the timer interrupts ticked.
    assert irq, "no interrupt line counted anything in 0.6 s"
    rates = [item["irq_rate"] for item in irq]
    assert rates == sorted(rates, reverse=True)
    for item in irq:
        assert item["key"] == "irq_line"
        assert isinstance(item["irq_line"], str)
        assert item["irq_line"]
        assert item["irq_rate"] > 0
        assert item["time_since_update"] > 0
    assert len({item["irq_line"] for item in irq}) == len(irq)


def test_ip_is_empty_or_consistent(stats: dict[str, Any]) -> None:
    ip = stats["ip"]
    if ip == {}:
        return
    mine = {
        a.address
        for addrs in psutil.net_if_addrs().values()
        for a in addrs
        if a.family == socket.AF_INET
    }

    assert ip["address"] in mine
    network = ipaddress.IPv4Network(f"{ip['address']}/{ip['mask']}", strict=False)
    assert network.prefixlen == ip["mask_cidr"]
    assert ipaddress.IPv4Address(ip["gateway"])  # parses
    assert ip["public_address"] == ""


def test_quicklook_reuses_the_round_results(stats: dict[str, Any]) -> None:
    quick = stats["quicklook"]

    assert quick["cpu"] == stats["cpu"]["total"]
    assert quick["mem"] == stats["mem"]["percent"]
    assert quick["swap"] == stats["memswap"]["percent"]
    assert quick["percpu"] == stats["percpu"]
    assert quick["load"] == round(100.0 * stats["load"]["min15"] / NCPU, 1)
    assert quick["cpu_log_core"] == NCPU
    assert quick["cpu_name"]
