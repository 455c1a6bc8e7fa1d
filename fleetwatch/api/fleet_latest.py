"""Every system's latest stats and whether it still reports, without a query per system.

Each accepted submission puts its stats here (``put``); a reader (``views``) re-reads from the
store only the systems whose ``last_seen`` is newer than what is held (another hub sharing
PostgreSQL took their submission, or this hub just started). The hub's own machine comes from
the live collector. ``/metrics`` and ``/api/4/serverslist`` read the fleet through this.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from fleetwatch.api.metrics_systems import SystemView
from fleetwatch.engine.staleness import StalenessWatcher
from fleetwatch.store import Store, SystemRecord

__all__ = ["FleetLatest"]


class FleetLatest:
    def __init__(
        self,
        store: Store,
        staleness: StalenessWatcher | None,
        local: Callable[[], tuple[int | None, dict[str, Any]]],
    ) -> None:
        self.store = store
        self.staleness = staleness
        self._local = local
        self._stats: dict[int, tuple[float, dict[str, Any]]] = {}

    def put(self, system_id: int, stats: dict[str, Any], at: float) -> None:
        held = self._stats.get(system_id)
        if held is None or at >= held[0]:
            self._stats[system_id] = (at, stats)

    async def stats(self, system_id: int, last_seen: float | None) -> dict[str, Any]:
        held = self._stats.get(system_id)
        if held is not None and (last_seen is None or held[0] >= last_seen):
            return held[1]
        snapshot = await self.store.latest_snapshot(system_id)
        if snapshot is None:
            return held[1] if held else {}
        self.put(system_id, snapshot.normalized, snapshot.created_at)
        return self._stats[system_id][1]

    async def views(self, systems: list[SystemRecord]) -> list[SystemView]:
        """``systems`` (the checks' internal owner left out) with their stats and ``up``."""
        kept = [s for s in systems if s.source != "checks"]
        for gone in self._stats.keys() - {s.id for s in kept}:
            del self._stats[gone]
        local_id, local_stats = self._local()
        out = []
        for system in kept:
            if system.id == local_id:
                out.append(SystemView(system.name, system.hostname or "", True, time.time(),
                                      local_stats, local=True))  # fmt: skip
                continue
            stale = self.staleness is not None and self.staleness.is_stale(system.id)
            stats = await self.stats(system.id, system.last_seen)
            # The store's last_seen is written a moment after the snapshot (LastSeen): a
            # submission held here already counts.
            held = self._stats.get(system.id)
            seen = max(system.last_seen or 0.0, held[0] if held else 0.0) or None
            up = seen is not None and not stale
            out.append(SystemView(system.name, _hostname(system, stats), up, seen, stats))
        return out


def _hostname(system: SystemRecord, stats: dict[str, Any]) -> str:
    if system.hostname:
        return system.hostname
    section = stats.get("system")
    reported = section.get("hostname") if isinstance(section, dict) else None
    return reported if isinstance(reported, str) else ""
