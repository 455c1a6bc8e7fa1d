"""The part of the ``Store`` contract that keeps downsampled history.

A rollup is one system's numeric history items summarised over one closed bucket of
``resolution`` seconds (60 or 3600): ``stats`` maps plugin -> item -> ``[avg, min, max, count]``
(``fleetwatch.model.rollup`` builds and merges them). The downsampling job writes them; the
history routes read them for long ranges; retention prunes them on their own, longer, schedule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

__all__ = ["RollupRecord", "RollupStore", "StatsRow"]

# (created_at, normalized): what downsampling needs of a snapshot, without its document.
StatsRow = tuple[float, dict[str, Any]]


@dataclass(frozen=True, slots=True)
class RollupRecord:
    system_id: int
    resolution: int
    bucket_start: float
    samples: int
    stats: dict[str, dict[str, list[float]]]


class RollupStore(Protocol):
    async def snapshot_stats(
        self, system_id: int, since: float, until: float, *, limit: int
    ) -> list[StatsRow]:
        """The normalised stats of a system's snapshots in ``[since, until)``, oldest first."""

    async def save_rollups(self, records: Sequence[RollupRecord]) -> None:
        """Insert or replace rollups (same system, resolution and bucket), committed on return."""

    async def rollups(
        self,
        system_id: int,
        resolution: int,
        since: float,
        until: float,
        *,
        limit: int,
        oldest: bool = False,
    ) -> list[RollupRecord]:
        """A system's rollups with ``since <= bucket_start < until``, oldest first: the newest
        ``limit`` of them, or with ``oldest`` the oldest ``limit``."""

    async def rollup_watermark(self, resolution: int) -> float | None:
        """Where ``resolution`` is rolled up to (buckets before it are final); None if never."""

    async def set_rollup_watermark(self, resolution: int, done_until: float) -> None:
        """Move the watermark forward (never back: another hub may have gone further)."""

    async def prune_rollups(self, resolution: int, before: float, *, batch: int = 1000) -> int:
        """Delete rollups of ``resolution`` older than ``before``, ``batch`` rows per write."""
