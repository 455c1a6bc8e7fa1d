"""``ip``: the address of the interface holding the default route, read from local tables.

Glances can also look up the public address on a web service; that is off by default in
Glances and never done here: the hub contacts nothing off the machine.
"""

from __future__ import annotations

import ipaddress
import socket
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psutil

from fleetwatch.collect.base import CollectContext
from fleetwatch.model.plugin import PluginSpec

SPEC = PluginSpec(name="ip", shape="dict", refresh_limit="ip_refresh")


def default_route(path: Path = Path("/proc/net/route")) -> tuple[str, str] | None:
    """The (interface, gateway) of the IPv4 default route, from the kernel's routing table."""
    try:
        lines = path.read_text().splitlines()[1:]
    except OSError:
        return None
    for line in lines:
        cols = line.split()
        if len(cols) >= 3 and cols[1] == "00000000":
            gateway = socket.inet_ntoa(int(cols[2], 16).to_bytes(4, "little"))
            return cols[0], gateway
    return None


class IpCollector:
    spec = SPEC

    def __init__(
        self,
        route: Callable[[], tuple[str, str] | None] = default_route,
        if_addrs: Callable[[], dict[str, list[Any]]] = psutil.net_if_addrs,
    ) -> None:
        self._route = route
        self._if_addrs = if_addrs

    def collect(self, ctx: CollectContext) -> dict[str, Any]:
        route = self._route()
        if route is None:
            return {}
        interface, gateway = route
        for addr in self._if_addrs().get(interface, []):
            if addr.family == socket.AF_INET and addr.netmask:
                cidr = ipaddress.IPv4Network(f"0.0.0.0/{addr.netmask}").prefixlen
                return {
                    "address": addr.address,
                    "mask": addr.netmask,
                    "mask_cidr": cidr,
                    "gateway": gateway,
                    "public_address": "",
                    "public_info_human": "",
                }
        return {}
