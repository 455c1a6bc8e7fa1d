"""``connections``: TCP connections by state and conntrack usage, from /proc/net.

Reading the kernel's tables directly costs a fraction of ``psutil.net_connections``, which
also walks every process' file descriptors to find owners we do not show.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any

from fleetwatch.collect.base import CollectContext
from fleetwatch.model.plugin import PluginSpec, ViewRule

SPEC = PluginSpec(
    name="connections",
    shape="dict",
    views=(ViewRule("nf_conntrack_percent", "connections_nf_conntrack_percent"),),
    # What Glances answers while the plugin is disabled, its default (the reference's example).
    disabled_value={"net_connections_enabled": True, "nf_conntrack_enabled": True},
)

# The state column of /proc/net/tcp (include/net/tcp_states.h).
TCP_STATES = {
    "01": "ESTABLISHED",
    "02": "SYN_SENT",
    "03": "SYN_RECV",
    "04": "FIN_WAIT1",
    "05": "FIN_WAIT2",
    "06": "TIME_WAIT",
    "07": "CLOSE",
    "08": "CLOSE_WAIT",
    "09": "LAST_ACK",
    "0A": "LISTEN",
    "0B": "CLOSING",
}
INITIATED = ("SYN_SENT", "SYN_RECV")
TERMINATED = ("FIN_WAIT1", "FIN_WAIT2", "TIME_WAIT", "CLOSE", "CLOSE_WAIT", "LAST_ACK", "CLOSING")
PROC_NET = Path("/proc/net")
CONNTRACK = Path("/proc/sys/net/netfilter")


def tcp_states(root: Path = PROC_NET) -> Counter[str] | None:
    counts: Counter[str] = Counter()
    found = False
    for name in ("tcp", "tcp6"):
        try:
            with (root / name).open() as f:
                next(f, None)
                found = True
                for line in f:
                    cols = line.split(maxsplit=4)
                    if len(cols) > 3:
                        counts[TCP_STATES.get(cols[3], cols[3])] += 1
        except OSError:
            continue
    return counts if found else None


def conntrack(root: Path = CONNTRACK) -> tuple[float, float] | None:
    try:
        count = float((root / "nf_conntrack_count").read_text())
        maximum = float((root / "nf_conntrack_max").read_text())
    except (OSError, ValueError):
        return None
    return count, maximum


class ConnectionsCollector:
    spec = SPEC

    def __init__(
        self,
        states: Callable[[], Counter[str] | None] = tcp_states,
        track: Callable[[], tuple[float, float] | None] = conntrack,
    ) -> None:
        self._states = states
        self._track = track

    def collect(self, ctx: CollectContext) -> dict[str, Any]:
        stats: dict[str, Any] = {}
        counts = self._states()
        stats["net_connections_enabled"] = counts is not None
        if counts is not None:
            for state in ("LISTEN", "ESTABLISHED", "SYN_SENT", "SYN_RECV"):
                stats[state] = counts.get(state, 0)
            stats["initiated"] = sum(counts.get(s, 0) for s in INITIATED)
            stats["terminated"] = sum(counts.get(s, 0) for s in TERMINATED)
        track = self._track()
        stats["nf_conntrack_enabled"] = track is not None
        if track is not None:
            count, maximum = track
            stats["nf_conntrack_count"] = count
            stats["nf_conntrack_max"] = maximum
            stats["nf_conntrack_percent"] = 100.0 * count / maximum if maximum else 0.0
        return stats
