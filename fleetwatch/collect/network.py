"""``network``: per-interface traffic counters, link speed and state."""

from __future__ import annotations

import socket
from collections.abc import Callable
from typing import Any

import psutil

from fleetwatch.collect.base import CollectContext
from fleetwatch.model.limits import is_true
from fleetwatch.model.plugin import PluginSpec, ViewRule


def _link_bits(item: dict[str, Any]) -> float | None:
    speed = item.get("speed")
    return float(speed) if speed else None


SPEC = PluginSpec(
    name="network",
    shape="list",
    key="interface_name",
    history=("bytes_recv_rate_per_sec", "bytes_sent_rate_per_sec"),
    views=(
        ViewRule(
            "bytes_recv",
            "network_rx",
            maximum=_link_bits,
            value=lambda i: 8.0 * float(i.get("bytes_recv_rate_per_sec") or 0),
        ),
        ViewRule(
            "bytes_sent",
            "network_tx",
            maximum=_link_bits,
            value=lambda i: 8.0 * float(i.get("bytes_sent_rate_per_sec") or 0),
        ),
    ),
)


def aliases(limits: dict[str, Any]) -> dict[str, str]:
    """``[network] alias = ["eth0:WAN"]`` (Glances writes ``alias=eth0:WAN,wlan0:WIFI``)."""
    value = limits.get("network_alias")
    pairs = value if isinstance(value, list) else []
    out: dict[str, str] = {}
    for pair in pairs:
        name, sep, alias = pair.partition(":")
        if sep and name.strip() and alias.strip():
            out[name.strip()] = alias.strip()
    return out


def _counters() -> dict[str, Any]:
    return psutil.net_io_counters(pernic=True) or {}


class NetworkCollector:
    spec = SPEC

    def __init__(
        self,
        counters: Callable[[], dict[str, Any]] = _counters,
        if_stats: Callable[[], dict[str, Any]] = psutil.net_if_stats,
        if_addrs: Callable[[], dict[str, list[Any]]] = psutil.net_if_addrs,
    ) -> None:
        self._counters = counters
        self._if_stats = if_stats
        self._if_addrs = if_addrs

    def collect(self, ctx: CollectContext) -> list[dict[str, Any]]:
        limits = ctx.limits.get("network", {})
        hide_no_up = is_true(limits.get("network_hide_no_up"))
        hide_no_ip = is_true(limits.get("network_hide_no_ip"))
        alias = aliases(limits)
        stats = self._if_stats()
        with_ip = {
            name
            for name, addrs in self._if_addrs().items()
            if any(a.family in (socket.AF_INET, socket.AF_INET6) for a in addrs)
        }
        out: list[dict[str, Any]] = []
        for name, c in self._counters().items():
            st = stats.get(name)
            is_up = bool(st.isup) if st is not None else None
            if hide_no_up and is_up is False:
                continue
            if hide_no_ip and name not in with_ip:
                continue
            out.append(
                {
                    "key": "interface_name",
                    "interface_name": name,
                    "alias": alias.get(name),
                    "bytes_recv": int(c.bytes_recv),
                    "bytes_sent": int(c.bytes_sent),
                    "bytes_all": int(c.bytes_recv) + int(c.bytes_sent),
                    # psutil reports Mbit/s; the wire field is bit/s.
                    "speed": int(st.speed) * 1_000_000 if st is not None and st.speed else 0,
                    "is_up": is_up,
                }
            )
        return out
