"""The collectors fed with recorded readings, for what this machine cannot show.

Every collector takes its data source as a constructor argument; the fakes below are shaped
like psutil's named tuples and the kernel's /proc files, with numbers chosen so that the
expected figures can be worked out by hand.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import psutil
import pytest

from fleetwatch.collect.base import CollectContext
from fleetwatch.collect.connections import ConnectionsCollector, conntrack, tcp_states
from fleetwatch.collect.core import CoreCollector
from fleetwatch.collect.cpu import CpuCollector
from fleetwatch.collect.cputimes import percentages
from fleetwatch.collect.diskio import DiskioCollector
from fleetwatch.collect.fs import FsCollector
from fleetwatch.collect.ip import IpCollector, default_route
from fleetwatch.collect.irq import IrqCollector, read_interrupts
from fleetwatch.collect.load import LoadCollector
from fleetwatch.collect.mem import MemCollector
from fleetwatch.collect.memswap import MemswapCollector
from fleetwatch.collect.network import NetworkCollector
from fleetwatch.collect.percpu import PercpuCollector
from fleetwatch.collect.processes import (
    ProcesscountCollector,
    ProcesslistCollector,
    ProcessTable,
    ProgramlistCollector,
    read_pid_max,
)
from fleetwatch.collect.quicklook import QuicklookCollector, read_cpu_name
from fleetwatch.collect.scalars import UptimeCollector, format_uptime
from fleetwatch.collect.system import SystemCollector, read_os_release
from fleetwatch.model.limits import Limits, default_limits

T0 = 1_751_263_432.0
GiB = 1024**3


def context(now: float = T0, limits: dict[str, Limits] | None = None) -> CollectContext:
    if limits is None:
        limits = default_limits(["network", "fs", "diskio"], 1200)
    return CollectContext(now=now, limits=limits)


class Replay:
    """Hands out recorded readings one call at a time."""

    def __init__(self, *readings: Any) -> None:
        self._readings: Iterator[Any] = iter(readings)

    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        return next(self._readings)


# --- cpu and percpu -----------------------------------------------------------------------


class CpuTimes(NamedTuple):
    user: float
    nice: float
    system: float
    idle: float
    iowait: float
    irq: float
    softirq: float
    steal: float
    guest: float
    guest_nice: float


class CpuStats(NamedTuple):
    ctx_switches: int
    interrupts: int
    soft_interrupts: int
    syscalls: int


BEFORE = CpuTimes(100.0, 0.0, 50.0, 800.0, 10.0, 2.0, 3.0, 5.0, 20.0, 0.0)
# 200 s of CPU time in all (guest is inside user): user +30, system +10, idle +150,
# iowait +5, irq +2, softirq +3, guest +20.
AFTER = CpuTimes(130.0, 0.0, 60.0, 950.0, 15.0, 4.0, 6.0, 5.0, 40.0, 0.0)


def test_cpu_percentages_by_hand() -> None:
    collector = CpuCollector(
        times=Replay(BEFORE, AFTER),
        stats=lambda: CpuStats(1000, 500, 200, 0),
        count=lambda: 4,
    )

    cpu = collector.collect(context())

    assert cpu == {
        "total": 25.0,
        "user": 15.0,
        "nice": 0.0,
        "system": 5.0,
        "idle": 75.0,
        "iowait": 2.5,
        "irq": 2.5,  # irq 1.0 + softirq 1.5
        "steal": 0.0,
        "guest": 10.0,
        "ctx_switches": 1000,
        "interrupts": 500,
        "soft_interrupts": 200,
        "syscalls": 0,
        "cpucore": 4,
    }


def test_cpu_series_uses_the_previous_reading_each_time() -> None:
    third = AFTER._replace(user=AFTER.user + 100.0)  # 100 s, all user
    collector = CpuCollector(
        times=Replay(BEFORE, AFTER, third), stats=lambda: CpuStats(0, 0, 0, 0), count=lambda: 1
    )

    first = collector.collect(context())
    second = collector.collect(context(T0 + 2))

    assert first["total"] == 25.0
    assert second["total"] == 100.0
    assert second["user"] == 100.0
    assert second["idle"] == 0.0


def test_cpu_no_time_elapsed_is_zero_not_full() -> None:
    # Two identical readings (two rounds within one clock tick) say nothing about load.
    collector = CpuCollector(
        times=Replay(BEFORE, BEFORE), stats=lambda: CpuStats(0, 0, 0, 0), count=lambda: 1
    )

    cpu = collector.collect(context())

    assert cpu["total"] == 0.0
    assert cpu["idle"] == 0.0


def test_cpu_accepts_recorded_dicts_and_missing_counters() -> None:
    collector = CpuCollector(
        times=Replay(
            {"user": 1.0, "system": 1.0, "idle": 8.0}, {"user": 3.0, "system": 2.0, "idle": 15.0}
        ),
        stats=object,
        count=lambda: None,
    )

    cpu = collector.collect(context())

    assert cpu["user"] == 20.0
    assert cpu["system"] == 10.0
    assert cpu["idle"] == 70.0
    assert cpu["total"] == 30.0
    assert cpu["iowait"] == 0.0
    assert cpu["ctx_switches"] == 0
    assert cpu["cpucore"] == 1


def test_counters_that_went_backwards_count_as_zero() -> None:
    pct = percentages({"user": 100.0, "idle": 100.0}, {"user": 50.0, "idle": 110.0})

    assert pct == {"user": 0.0, "idle": 100.0}


def test_percpu_by_hand() -> None:
    busy = CpuTimes(10.0, 0.0, 0.0, 10.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    idle = CpuTimes(0.0, 0.0, 0.0, 100.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    collector = PercpuCollector(
        times=Replay(
            [busy, idle],
            [busy._replace(user=40.0, system=10.0), idle._replace(idle=200.0, iowait=100.0)],
        )
    )

    cpu0, cpu1 = collector.collect(context())

    assert cpu0["cpu_number"] == 0
    assert cpu0["key"] == "cpu_number"
    assert (cpu0["user"], cpu0["system"], cpu0["idle"], cpu0["total"]) == (75.0, 25.0, 0.0, 100.0)
    assert cpu1["cpu_number"] == 1
    assert (cpu1["idle"], cpu1["iowait"], cpu1["total"]) == (50.0, 50.0, 50.0)
    assert cpu0["dpc"] is None
    assert cpu0["interrupt"] is None


def test_percpu_cpu_that_appears_starts_from_zero() -> None:
    one = CpuTimes(10.0, 0.0, 0.0, 10.0, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0)
    collector = PercpuCollector(times=Replay([one], [one._replace(idle=20.0), one]))

    cpus = collector.collect(context())

    assert [c["cpu_number"] for c in cpus] == [0, 1]
    assert cpus[0]["idle"] == 100.0
    assert cpus[1]["total"] == 0.0  # hot-plugged: no earlier reading to compare with


# --- core, load, mem, memswap -------------------------------------------------------------


def test_core_counts() -> None:
    def count(logical: bool = True) -> int | None:
        return 16 if logical else 8

    def count_no_phys(logical: bool = True) -> int | None:
        return 4 if logical else None

    assert CoreCollector(count).collect(context()) == {"phys": 8, "log": 16}
    assert CoreCollector(count_no_phys).collect(context()) == {"phys": 4, "log": 4}


def test_load() -> None:
    collector = LoadCollector(
        loadavg=lambda: (0.8486328125, 0.5673828125, 0.51953125), count=lambda: 16
    )

    assert collector.collect(context()) == {
        "min1": 0.8486328125,
        "min5": 0.5673828125,
        "min15": 0.51953125,
        "cpucore": 16,
    }


class VirtualMemory(NamedTuple):
    total: int
    available: int
    percent: float
    used: int
    free: int
    active: int
    inactive: int
    buffers: int
    cached: int
    shared: int
    slab: int


class MacVirtualMemory(NamedTuple):
    total: int
    available: int
    percent: float
    used: int
    free: int
    active: int
    inactive: int
    wired: int


def test_mem_free_is_available_and_used_is_the_rest() -> None:
    vm = VirtualMemory(
        total=16_421_875_712,
        available=5_580_181_504,
        percent=66.0,
        used=9_000_000_000,  # the kernel's own "used": not what Glances shows
        free=1_000_000_000,  # MemFree: not shown either
        active=6_821_453_824,
        inactive=6_609_973_248,
        buffers=240_480_256,
        cached=5_894_012_928,
        shared=845_099_008,
        slab=1,
    )

    mem = MemCollector(lambda: vm).collect(context())

    assert mem == {
        "total": 16_421_875_712,
        "available": 5_580_181_504,
        "percent": 66.0,
        "free": 5_580_181_504,
        "used": 10_841_694_208,
        "active": 6_821_453_824,
        "inactive": 6_609_973_248,
        "buffers": 240_480_256,
        "cached": 5_894_012_928,
        "shared": 845_099_008,
    }


def test_mem_optional_fields_follow_the_platform() -> None:
    vm = MacVirtualMemory(8 * GiB, 2 * GiB, 75.0, 6 * GiB, GiB, GiB, GiB, 3 * GiB)

    mem = MemCollector(lambda: vm).collect(context())

    assert mem["wired"] == 3 * GiB
    assert mem["used"] == 6 * GiB
    assert "buffers" not in mem
    assert "cached" not in mem


class SwapMemory(NamedTuple):
    total: int
    used: int
    free: int
    percent: float
    sin: int
    sout: int


def test_memswap_and_its_time_since_update() -> None:
    swap = SwapMemory(4_294_963_200, 3_689_541_632, 605_421_568, 85.9, 2_137_960_448, 9_439_567_872)
    collector = MemswapCollector(lambda: swap)

    first = collector.collect(context(T0))
    second = collector.collect(context(T0 + 1.5))

    assert first == {
        "total": 4_294_963_200,
        "used": 3_689_541_632,
        "free": 605_421_568,
        "percent": 85.9,
        "sin": 2_137_960_448,
        "sout": 9_439_567_872,
        "time_since_update": 0.0,
    }
    assert second["time_since_update"] == 1.5


# --- fs and diskio ------------------------------------------------------------------------


class Partition(NamedTuple):
    device: str
    mountpoint: str
    fstype: str
    opts: str


class Usage(NamedTuple):
    total: int
    used: int
    free: int
    percent: float


def test_fs_leaves_out_unreadable_mounts_and_duplicates() -> None:
    partitions = [
        Partition("/dev/mapper/vg-root", "/", "ext4", "rw,relatime"),
        Partition("/dev/sdb1", "/media/gone", "vfat", "rw"),
        Partition("zsfpool", "/zsfpool", "zfs", "rw,xattr"),
        Partition("/dev/mapper/vg-root", "/", "ext4", "rw,relatime"),  # bind-mounted twice
    ]
    usages = {
        "/": Usage(1_003_736_440_832, 195_325_140_992, 757_348_794_368, 20.5),
        "/zsfpool": Usage(41_811_968, 131_072, 41_680_896, 0.3),
    }
    calls: list[bool] = []

    def list_partitions(all: bool = False) -> list[Partition]:
        calls.append(all)
        return partitions

    def usage(mountpoint: str) -> Usage:
        if mountpoint not in usages:
            raise PermissionError(13, "Permission denied", mountpoint)
        return usages[mountpoint]

    fs = FsCollector(list_partitions, usage).collect(context())

    assert calls == [False]  # physical devices only, as Glances asks
    assert [item["mnt_point"] for item in fs] == ["/", "/zsfpool"]
    assert fs[0] == {
        "key": "mnt_point",
        "device_name": "/dev/mapper/vg-root",
        "fs_type": "ext4",
        "mnt_point": "/",
        "options": "rw,relatime",
        "size": 1_003_736_440_832,
        "used": 195_325_140_992,
        "free": 757_348_794_368,
        "percent": 20.5,
    }


class DiskCounters(NamedTuple):
    read_count: int
    write_count: int
    read_bytes: int
    write_bytes: int
    read_time: int


def test_diskio_items() -> None:
    source = {
        "nvme0n1": DiskCounters(1_285_414, 3_912_353, 23_662_305_280, 42_966_279_168, 5),
        "nvme0n1p1": DiskCounters(1635, 2, 16_233_984, 1024, 0),
    }

    disks = DiskioCollector(lambda: source).collect(context())

    assert disks == [
        {
            "key": "disk_name",
            "disk_name": "nvme0n1",
            "read_count": 1_285_414,
            "write_count": 3_912_353,
            "read_bytes": 23_662_305_280,
            "write_bytes": 42_966_279_168,
        },
        {
            "key": "disk_name",
            "disk_name": "nvme0n1p1",
            "read_count": 1635,
            "write_count": 2,
            "read_bytes": 16_233_984,
            "write_bytes": 1024,
        },
    ]


# --- network and ip -----------------------------------------------------------------------


class NetCounters(NamedTuple):
    bytes_sent: int
    bytes_recv: int
    packets_sent: int
    packets_recv: int


class NicStats(NamedTuple):
    isup: bool
    duplex: int
    speed: int
    mtu: int


class NicAddr(NamedTuple):
    family: int
    address: str
    netmask: str | None
    broadcast: str | None
    ptp: str | None


AF_LINK = getattr(socket, "AF_PACKET", 17)

COUNTERS = {
    "eth0": NetCounters(568_722_988, 2_938_594_709, 1, 1),
    "wlan0": NetCounters(10, 20, 1, 1),  # down
    "veth1": NetCounters(853_694, 181_084, 1, 1),  # up, no address
    "tun0": NetCounters(5, 7, 1, 1),  # IPv6 only, absent from if_stats
}
IF_STATS = {
    "eth0": NicStats(True, 2, 1000, 1500),
    "wlan0": NicStats(False, 0, 0, 1500),
    "veth1": NicStats(True, 2, 10000, 1500),
}
IF_ADDRS = {
    "eth0": [
        NicAddr(socket.AF_INET, "192.168.0.28", "255.255.255.0", "192.168.0.255", None),
        NicAddr(AF_LINK, "02:fc:00:00:00:01", None, None, None),
    ],
    "wlan0": [NicAddr(socket.AF_INET, "10.0.0.5", "255.255.0.0", None, None)],
    "veth1": [NicAddr(AF_LINK, "02:fc:00:00:00:02", None, None, None)],
    "tun0": [NicAddr(socket.AF_INET6, "fd00::2", "ffff:ffff:ffff:ffff::", None, None)],
}


def network(limits: dict[str, Limits]) -> dict[str, dict[str, Any]]:
    collector = NetworkCollector(lambda: COUNTERS, lambda: IF_STATS, lambda: IF_ADDRS)
    return {item["interface_name"]: item for item in collector.collect(context(limits=limits))}


def test_network_hides_down_and_addressless_interfaces_by_default() -> None:
    shown = network(default_limits(["network"], 1200))

    assert set(shown) == {"eth0", "tun0"}
    assert shown["eth0"] == {
        "key": "interface_name",
        "interface_name": "eth0",
        "alias": None,
        "bytes_recv": 2_938_594_709,
        "bytes_sent": 568_722_988,
        "bytes_all": 3_507_317_697,
        "speed": 1_000_000_000,  # 1000 Mbit/s as bit/s
        "is_up": True,
    }
    assert shown["tun0"]["is_up"] is None
    assert shown["tun0"]["speed"] == 0


def test_network_shows_everything_when_the_switches_are_off() -> None:
    limits = default_limits(["network"], 1200)
    limits["network"]["network_hide_no_up"] = ["False"]
    limits["network"]["network_hide_no_ip"] = ["False"]

    shown = network(limits)

    assert set(shown) == {"eth0", "wlan0", "veth1", "tun0"}
    assert shown["wlan0"]["is_up"] is False
    assert shown["veth1"]["speed"] == 10_000_000_000


def test_network_without_limits_hides_nothing() -> None:
    assert set(network({})) == {"eth0", "wlan0", "veth1", "tun0"}


ROUTE = (
    "Iface\tDestination\tGateway \tFlags\tRefCnt\tUse\tMetric\tMask\t\tMTU\tWindow\tIRTT\n"
    "docker0\t000011AC\t00000000\t0001\t0\t0\t0\t0000FFFF\t0\t0\t0\n"
    "eth0\t00000000\t0100A8C0\t0003\t0\t0\t100\t00000000\t0\t0\t0\n"
    "eth0\t0000A8C0\t00000000\t0001\t0\t0\t100\t00FFFFFF\t0\t0\t0\n"
)


def test_default_route_from_proc_net_route(tmp_path: Path) -> None:
    route = tmp_path / "route"
    route.write_text(ROUTE)

    assert default_route(route) == ("eth0", "192.168.0.1")


def test_no_default_route(tmp_path: Path) -> None:
    route = tmp_path / "route"
    route.write_text(ROUTE.splitlines(keepends=True)[0] + ROUTE.splitlines(keepends=True)[1])

    assert default_route(route) is None
    assert default_route(tmp_path / "absent") is None


def test_ip_of_the_default_route_interface(tmp_path: Path) -> None:
    route = tmp_path / "route"
    route.write_text(ROUTE)
    collector = IpCollector(route=lambda: default_route(route), if_addrs=lambda: IF_ADDRS)

    assert collector.collect(context()) == {
        "address": "192.168.0.28",
        "mask": "255.255.255.0",
        "mask_cidr": 24,
        "gateway": "192.168.0.1",
        "public_address": "",
        "public_info_human": "",
    }


def test_ip_is_empty_without_route_or_ipv4_address() -> None:
    no_route = IpCollector(route=lambda: None, if_addrs=lambda: IF_ADDRS)
    no_ipv4 = IpCollector(route=lambda: ("tun0", "10.8.0.1"), if_addrs=lambda: IF_ADDRS)

    assert no_route.collect(context()) == {}
    assert no_ipv4.collect(context()) == {}


# --- irq and connections ------------------------------------------------------------------

INTERRUPTS = """\
           CPU0       CPU1       CPU2       CPU3
  0:         21          0          0          0   IO-APIC   2-edge      timer
  1:      {kbd}        341         44         72   IO-APIC   1-edge      i8042
  8:          0          0          0          1   IO-APIC   8-edge      rtc0
NMI:          0          0          0          0   Non-maskable interrupts
LOC:   {loc}   22394684   32474570   21855077   Local timer interrupts
ERR:          0
MIS:          0
"""


def write_interrupts(path: Path, kbd: int, loc: int) -> None:
    path.write_text(INTERRUPTS.format(kbd=kbd, loc=loc))


def test_read_interrupts_sums_cpus_and_names_lines_like_glances(tmp_path: Path) -> None:
    path = tmp_path / "interrupts"
    write_interrupts(path, kbd=44487, loc=33549868)

    assert read_interrupts(path) == {
        "0_timer": 21,
        "1_i8042": 44487 + 341 + 44 + 72,
        "8_rtc0": 1,
        "NMI": 0,
        "LOC": 33549868 + 22394684 + 32474570 + 21855077,
        "ERR": 0,
        "MIS": 0,
    }
    assert read_interrupts(tmp_path / "absent") == {}


def test_irq_rates_busiest_first(tmp_path: Path) -> None:
    path = tmp_path / "interrupts"
    write_interrupts(path, kbd=44487, loc=33549868)
    collector = IrqCollector(lambda: read_interrupts(path))

    assert collector.collect(context(T0)) == []  # no elapsed time yet: no rate
    write_interrupts(path, kbd=44487 + 10, loc=33549868 + 2000)
    irq = collector.collect(context(T0 + 2.0))

    assert irq == [
        {"key": "irq_line", "irq_line": "LOC", "irq_rate": 1000.0, "time_since_update": 2.0},
        {"key": "irq_line", "irq_line": "1_i8042", "irq_rate": 5.0, "time_since_update": 2.0},
    ]


TCP = """\
  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 0100007F:6448 00000000:0000 0A 00000000:00000000 00:00000000 00000000   106        0 5816 1
   1: 00000000:07E8 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1525 1
   2: 0200A8C0:A1B2 0A00A8C0:01BB 01 00000000:00000000 00:00000000 00000000  1000        0 7777 1
   3: 0200A8C0:A1B3 0A00A8C0:01BB 02 00000000:00000000 00:00000000 00000000  1000        0 7778 1
   4: 0200A8C0:A1B4 0A00A8C0:01BB 06 00000000:00000000 00:00000000 00000000     0        0 0 1
   5: 0200A8C0:A1B5 0A00A8C0:01BB 08 00000000:00000000 00:00000000 00000000  1000        0 7779 1
"""
TCP6 = """\
  sl  local_address                         remote_address                        st tx_queue
   0: 00000000000000000000000000000000:0016 00000000000000000000000000000000:0000 0A 00000000
   1: 0000000000000000FFFF00000200A8C0:0016 0000000000000000FFFF00000A00A8C0:D431 01 00000000
"""


def test_tcp_states_from_proc_net(tmp_path: Path) -> None:
    (tmp_path / "tcp").write_text(TCP)
    (tmp_path / "tcp6").write_text(TCP6)

    states = tcp_states(tmp_path)

    assert states is not None
    assert dict(states) == {
        "LISTEN": 3,
        "ESTABLISHED": 2,
        "SYN_SENT": 1,
        "TIME_WAIT": 1,
        "CLOSE_WAIT": 1,
    }
    assert tcp_states(tmp_path / "absent") is None


def test_connections_counts_and_conntrack(tmp_path: Path) -> None:
    (tmp_path / "tcp").write_text(TCP)
    (tmp_path / "nf_conntrack_count").write_text("512\n")
    (tmp_path / "nf_conntrack_max").write_text("262144\n")
    collector = ConnectionsCollector(lambda: tcp_states(tmp_path), lambda: conntrack(tmp_path))

    assert collector.collect(context()) == {
        "net_connections_enabled": True,
        "LISTEN": 2,
        "ESTABLISHED": 1,
        "SYN_SENT": 1,
        "SYN_RECV": 0,
        "initiated": 1,
        "terminated": 2,
        "nf_conntrack_enabled": True,
        "nf_conntrack_count": 512.0,
        "nf_conntrack_max": 262144.0,
        "nf_conntrack_percent": 0.1953125,
    }


def test_connections_without_proc_net(tmp_path: Path) -> None:
    (tmp_path / "nf_conntrack_count").write_text("not a number\n")
    collector = ConnectionsCollector(lambda: tcp_states(tmp_path), lambda: conntrack(tmp_path))

    assert collector.collect(context()) == {
        "net_connections_enabled": False,
        "nf_conntrack_enabled": False,
    }


# --- system, uptime -----------------------------------------------------------------------


class Uname(NamedTuple):
    system: str
    node: str
    release: str
    version: str
    machine: str


OS_RELEASE = """\
# managed by the distribution
PRETTY_NAME="Ubuntu 24.04.2 LTS"
NAME="Ubuntu"
VERSION_ID="24.04"
ID=ubuntu
HOME_URL='https://www.ubuntu.com/'

"""


def test_read_os_release(tmp_path: Path) -> None:
    path = tmp_path / "os-release"
    path.write_text(OS_RELEASE)

    release = read_os_release(path)

    assert release["NAME"] == "Ubuntu"
    assert release["VERSION_ID"] == "24.04"
    assert release["ID"] == "ubuntu"
    assert release["HOME_URL"] == "https://www.ubuntu.com/"
    assert release["PRETTY_NAME"] == "Ubuntu 24.04.2 LTS"
    assert not any(key.startswith("#") for key in release)
    assert read_os_release(tmp_path / "absent") == {}


def test_system_on_linux(tmp_path: Path) -> None:
    path = tmp_path / "os-release"
    path.write_text(OS_RELEASE)
    uname = Uname("Linux", "hub-01", "6.8.0-60-generic", "#63", "x86_64")
    collector = SystemCollector(os_release=lambda: read_os_release(path), uname=lambda: uname)

    assert collector.collect(context()) == {
        "os_name": "Linux",
        "hostname": "hub-01",
        "platform": "64bit",
        "os_version": "6.8.0-60-generic",
        "linux_distro": "Ubuntu 24.04",
        "hr_name": "Ubuntu 24.04 64bit / Linux 6.8.0-60-generic",
    }


def test_system_without_os_release() -> None:
    uname = Uname("Linux", "pi", "6.6.31", "#1", "aarch64")
    collector = SystemCollector(os_release=dict, uname=lambda: uname)

    system = collector.collect(context())

    assert system["linux_distro"] == "Linux"
    assert system["hr_name"] == "Linux 64bit / Linux 6.6.31"


def test_system_not_linux() -> None:
    uname = Uname("Darwin", "mac", "23.5.0", "Darwin Kernel", "arm64")
    collector = SystemCollector(os_release=lambda: {"NAME": "ignored"}, uname=lambda: uname)

    system = collector.collect(context())

    assert system["hr_name"] == "Darwin 23.5.0 64bit"
    assert "linux_distro" not in system


@pytest.mark.parametrize(
    ("seconds", "text"),
    [
        (8 * 86400 + 18 * 3600 + 39 * 60 + 26, "8 days, 18:39:26"),
        (86400, "1 day, 0:00:00"),
        (3869.9, "1:04:29"),
        (59, "0:00:59"),
        (-5, "0:00:00"),
    ],
)
def test_format_uptime(seconds: float, text: str) -> None:
    assert format_uptime(seconds) == text


def test_uptime_from_boot_time() -> None:
    collector = UptimeCollector(boot_time=lambda: T0 - (2 * 86400 + 5))

    assert collector.collect(context(T0)) == "2 days, 0:00:05"


# --- processes ----------------------------------------------------------------------------


class Uids(NamedTuple):
    real: int
    effective: int
    saved: int


class Mem(NamedTuple):
    rss: int
    vms: int


class Times(NamedTuple):
    user: float
    system: float
    children_user: float
    children_system: float
    iowait: float


class Io(NamedTuple):
    read_count: int
    write_count: int
    read_bytes: int
    write_bytes: int


class FakeProcess:
    def __init__(self, **info: Any) -> None:
        self.info = info


def proc(pid: int, name: str, cpu: float, rss: int, **extra: Any) -> FakeProcess:
    info: dict[str, Any] = {
        "pid": pid,
        "name": name,
        "cmdline": [f"/usr/bin/{name}", "--flag"],
        "uids": Uids(0, 0, 0),
        "num_threads": 2,
        "cpu_percent": cpu,
        "memory_info": Mem(rss, rss * 2),
        "status": psutil.STATUS_SLEEPING,
        "nice": 0,
        "cpu_times": Times(1.0, 0.5, 0.0, 0.0, 0.0),
        "gids": Uids(0, 0, 0),
        "io_counters": Io(1, 1, 4096, 0),
    }
    info.update(extra)
    return FakeProcess(**info)


class ProcessIter:
    """psutil.process_iter replayed: one list of processes per call."""

    def __init__(self, *rounds: list[FakeProcess]) -> None:
        self._rounds = iter(rounds)
        self.calls: list[dict[str, Any]] = []

    def __call__(self, attrs: list[str], ad_value: Any) -> list[FakeProcess]:
        self.calls.append({"attrs": attrs, "ad_value": ad_value})
        return next(self._rounds)


MEMORY_TOTAL = 16 * GiB


def test_processlist_shape_sort_and_memory_percent() -> None:
    walk = ProcessIter(
        [
            proc(1, "systemd", 0.0, 16 * 1024**2),
            proc(4242, "python3", 87.5, GiB, uids=Uids(4294967294, 0, 0)),
            proc(777, "postgres", 12.0, 2 * GiB, status=psutil.STATUS_RUNNING),
            proc(778, "postgres", 0.0, GiB // 2, status=psutil.STATUS_ZOMBIE),
        ]
    )
    table = ProcessTable(process_iter=walk, memory_total=lambda: MEMORY_TOTAL)

    procs = ProcesslistCollector(table).collect(context())

    assert [p["pid"] for p in procs] == [4242, 777, 778, 1]
    assert walk.calls[0]["ad_value"] is None
    assert "cpu_percent" in walk.calls[0]["attrs"]
    python = procs[0]
    assert python["key"] == "pid"
    assert python["memory_percent"] == 6.25
    assert python["username"] == "4294967294"  # no passwd entry: the uid itself
    assert procs[1]["username"] == "root"
    assert procs[1]["status"] == "R"
    assert procs[2]["status"] == "Z"
    assert procs[3]["status"] == "S"
    assert python["memory_info"] == {"rss": GiB, "vms": 2 * GiB}
    assert python["cpu_times"] == {
        "user": 1.0,
        "system": 0.5,
        "children_user": 0.0,
        "children_system": 0.0,
        "iowait": 0.0,
    }
    assert python["gids"] == {"real": 0, "effective": 0, "saved": 0}
    assert python["io_counters"] == [4096, 0, 4096, 0, 0]
    assert python["time_since_update"] == 0.0


def test_processlist_io_counters_keep_the_previous_round() -> None:
    walk = ProcessIter(
        [proc(10, "dd", 0.0, 1024)],
        [proc(10, "dd", 99.0, 1024, io_counters=Io(5, 5, 1_048_576, 8192))],
    )
    table = ProcessTable(process_iter=walk, memory_total=lambda: MEMORY_TOTAL)

    table.snapshot(T0)
    (dd,) = table.snapshot(T0 + 2.0)

    assert dd["io_counters"] == [1_048_576, 8192, 4096, 0, 1]
    assert dd["time_since_update"] == 2.0


def test_processlist_access_denied_fields_are_none() -> None:
    denied = dict.fromkeys(
        ("cmdline", "uids", "memory_info", "nice", "cpu_times", "gids", "io_counters", "status")
    )
    walk = ProcessIter([proc(2, "kthreadd", 0.0, 0, cpu_percent=None, **denied)])
    table = ProcessTable(process_iter=walk, memory_total=lambda: MEMORY_TOTAL)

    (item,) = table.snapshot(T0)

    assert item["cmdline"] == []
    assert item["username"] is None
    assert item["cpu_percent"] == 0.0
    assert item["memory_percent"] == 0.0
    assert item["memory_info"] is None
    assert item["io_counters"] is None
    assert item["status"] is None


def test_processcount_and_programlist_from_the_round() -> None:
    walk = ProcessIter(
        [
            proc(1, "systemd", 0.5, GiB // 4),
            proc(100, "nginx", 2.0, GiB // 8, num_threads=1, status=psutil.STATUS_RUNNING),
            proc(101, "nginx", 3.0, GiB // 8, num_threads=4, status=psutil.STATUS_IDLE),
            proc(102, "nginx", 1.0, GiB // 8, num_threads=1, status=psutil.STATUS_DISK_SLEEP),
        ]
    )
    ctx = context()
    ctx.results["processlist"] = ProcesslistCollector(
        ProcessTable(walk, lambda: MEMORY_TOTAL)
    ).collect(ctx)

    count = ProcesscountCollector(pid_max=lambda: 4_194_304).collect(ctx)
    programs = ProgramlistCollector().collect(ctx)

    assert count == {"total": 4, "running": 1, "sleeping": 3, "thread": 8, "pid_max": 4_194_304}
    assert [p["name"] for p in programs] == ["nginx", "systemd"]
    nginx = programs[0]
    assert nginx["key"] == "name"
    assert nginx["pid"] == "_"
    assert nginx["nprocs"] == 3
    assert sorted(nginx["childrens"]) == [100, 101, 102]
    assert nginx["cpu_percent"] == 6.0
    assert nginx["memory_percent"] == pytest.approx(3 * 100 / 128)
    assert nginx["num_threads"] == 6
    assert nginx["memory_info"] == {"rss": 3 * GiB // 8, "vms": 3 * GiB // 4}
    assert nginx["cpu_times"]["user"] == 3.0
    assert nginx["cmdline"] == ["nginx"]
    assert sum(p["nprocs"] for p in programs) == count["total"]


def test_read_pid_max(tmp_path: Path) -> None:
    path = tmp_path / "pid_max"
    path.write_text("4194304\n")

    assert read_pid_max(path) == 4_194_304
    assert read_pid_max(tmp_path / "absent") == 0


# --- quicklook ----------------------------------------------------------------------------


class Freq(NamedTuple):
    current: float
    min: float
    max: float


def logical_count(logical: bool = True) -> int | None:
    return 16 if logical else 8


def test_quicklook_reuses_other_plugins() -> None:
    collector = QuicklookCollector(
        cpu_name=lambda: "13th Gen Intel(R) Core(TM) i7-13620H",
        freq=lambda: Freq(1_000.0, 400.0, 4_900.0),
        count=logical_count,
    )
    ctx = context()
    percpu = [{"cpu_number": 0, "total": 5.0}]
    ctx.results.update(
        cpu={"total": 6.9},
        percpu=percpu,
        mem={"percent": 66.0},
        memswap={"percent": 85.9},
        load={"min1": 0.85, "min5": 0.57, "min15": 0.52},
    )

    quick = collector.collect(ctx)

    assert quick == {
        "cpu": 6.9,
        "percpu": percpu,
        "mem": 66.0,
        "swap": 85.9,
        "load": 3.2,  # 100 * 0.52 / 16 cores
        "cpu_name": "13th Gen Intel(R) Core(TM) i7-13620H",
        "cpu_hz_current": 1e9,
        "cpu_hz": 4.9e9,
        "cpu_log_core": 16,
        "cpu_phys_core": 8,
    }


def test_quicklook_without_frequency_or_results() -> None:
    def no_freq() -> Any:
        raise NotImplementedError

    collector = QuicklookCollector(cpu_name=lambda: "CPU", freq=no_freq, count=logical_count)

    quick = collector.collect(context())

    assert quick["cpu"] is None
    assert quick["mem"] is None
    assert quick["load"] is None
    assert quick["percpu"] == []
    assert quick["cpu_hz"] is None
    assert quick["cpu_hz_current"] is None


def test_read_cpu_name(tmp_path: Path) -> None:
    x86 = tmp_path / "cpuinfo"
    x86.write_text(
        "processor\t: 0\nvendor_id\t: GenuineIntel\nmodel name\t: Intel(R) Xeon(R) 8480+\n"
    )
    arm = tmp_path / "cpuinfo-arm"
    arm.write_text("processor\t: 0\nBogoMIPS\t: 108.00\n\nHardware\t: BCM2835\n")

    assert read_cpu_name(x86) == "Intel(R) Xeon(R) 8480+"
    assert read_cpu_name(arm) == "BCM2835"
    assert read_cpu_name(tmp_path / "absent") == "CPU"
