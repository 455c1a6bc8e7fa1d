"""Every plugin name of the Glances API v4, and the collector that serves each here."""

from __future__ import annotations

from fleetwatch.collect.amps import AmpsCollector
from fleetwatch.collect.base import Collector, EmptyCollector
from fleetwatch.collect.cloud import CloudCollector
from fleetwatch.collect.connections import ConnectionsCollector
from fleetwatch.collect.containers import ContainersCollector
from fleetwatch.collect.core import CoreCollector
from fleetwatch.collect.cpu import CpuCollector
from fleetwatch.collect.diskio import DiskioCollector
from fleetwatch.collect.folders import FoldersCollector
from fleetwatch.collect.fs import FsCollector
from fleetwatch.collect.gpu import GpuCollector
from fleetwatch.collect.ip import IpCollector
from fleetwatch.collect.irq import IrqCollector
from fleetwatch.collect.load import LoadCollector
from fleetwatch.collect.mem import MemCollector
from fleetwatch.collect.memswap import MemswapCollector
from fleetwatch.collect.network import NetworkCollector
from fleetwatch.collect.percpu import PercpuCollector
from fleetwatch.collect.ports import PortsCollector
from fleetwatch.collect.processes import (
    ProcesscountCollector,
    ProcesslistCollector,
    ProgramlistCollector,
)
from fleetwatch.collect.quicklook import QuicklookCollector
from fleetwatch.collect.raid import RaidCollector
from fleetwatch.collect.scalars import (
    HelpCollector,
    NowCollector,
    PsutilVersionCollector,
    UptimeCollector,
    VersionCollector,
)
from fleetwatch.collect.sensors import SensorsCollector
from fleetwatch.collect.smart import SmartCollector
from fleetwatch.collect.system import SystemCollector
from fleetwatch.collect.vms import VmsCollector
from fleetwatch.collect.wifi import WifiCollector
from fleetwatch.model.plugin import PluginSpec

# The reference's ``pluginslist``, in its order.
PLUGIN_NAMES = (
    "alert", "amps", "cloud", "connections", "containers", "core", "cpu", "diskio", "folders",
    "fs", "gpu", "help", "ip", "irq", "load", "mem", "memswap", "network", "now", "percpu",
    "ports", "processcount", "processlist", "programlist", "psutilversion", "quicklook", "raid",
    "sensors", "smart", "system", "uptime", "version", "vms", "wifi",
)  # fmt: skip

# Plugins answered with Glances' own "nothing here" value until they are gathered.
NOT_GATHERED: dict[str, PluginSpec] = {
    "alert": PluginSpec("alert", "list"),
}


def build_collectors() -> list[Collector]:
    """All collectors in dependency order: the ones that reuse others' results come last."""
    gathered: list[Collector] = [
        CpuCollector(),
        PercpuCollector(),
        CoreCollector(),
        LoadCollector(),
        MemCollector(),
        MemswapCollector(),
        SystemCollector(),
        UptimeCollector(),
        VersionCollector(),
        PsutilVersionCollector(),
        NowCollector(),
        HelpCollector(),
        ProcesslistCollector(),
        ProcesscountCollector(),
        ProgramlistCollector(),
        AmpsCollector(),
        FsCollector(),
        DiskioCollector(),
        NetworkCollector(),
        IpCollector(),
        IrqCollector(),
        ConnectionsCollector(),
        QuicklookCollector(),
        SensorsCollector(),
        GpuCollector(),
        ContainersCollector(),
        RaidCollector(),
        SmartCollector(),
        WifiCollector(),
        VmsCollector(),
        CloudCollector(),
        PortsCollector(),
        FoldersCollector(),
    ]
    empty: list[Collector] = [EmptyCollector(spec) for spec in NOT_GATHERED.values()]
    return gathered + empty
