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

    def _fresh(self, system_id: int, last_seen: float | None) -> bool:
        held = self._stats.get(system_id)
        return held is not None and (last_seen is None or held[0] >= last_seen)

    async def stats(self, system_id: int, last_seen: float | None) -> dict[str, Any]:
        if not self._fresh(system_id, last_seen):
            await self._load([system_id])
        held = self._stats.get(system_id)
        return held[1] if held else {}

    async def _load(self, system_ids: list[int]) -> None:
        """Read the newest stats of ``system_ids`` from the store, in one statement."""
        for system_id, (at, stats) in (await self.store.latest_stats(system_ids)).items():
            self.put(system_id, stats, at)

    async def views(self, systems: list[SystemRecord], *, whole: bool = True) -> list[SystemView]:
        """``systems`` (the checks' internal owner left out) with their stats and ``up``;
        ``whole``: they are the whole fleet, so what is held for others is dropped."""
        kept = [s for s in systems if s.source != "checks"]
        if whole:
            for gone in self._stats.keys() - {s.id for s in kept}:
                del self._stats[gone]
        local_id, local_stats = self._local()
        # Every system not held (or held older than its last_seen) in one read, not one each:
        # a hub just started with 10,000 systems held none of them.
        missing = [s.id for s in kept if s.id != local_id and not self._fresh(s.id, s.last_seen)]
        if missing:
            await self._load(missing)
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
