"""The part of the ``Store`` contract that keeps downsampled history.

A rollup is one system's numeric history items summarised over one closed bucket of
``resolution`` seconds (60 or 3600): ``stats`` maps plugin -> item -> ``[avg, min, max, count]``
(``fleetwatch.model.rollup`` builds and merges them). The downsampling job writes them; the
history routes read them for long ranges; retention prunes them on their own, longer, schedule.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from .summaries_sql import HistoryItem, SummaryRow

__all__ = ["HistoryItem", "RollupRecord", "RollupStore", "SummaryRow"]


@dataclass(frozen=True, slots=True)
class RollupRecord:
    system_id: int
    resolution: int
    bucket_start: float
    samples: int
    stats: dict[str, dict[str, list[float]]]


class RollupStore(Protocol):
    async def first_snapshot_at(self, system_id: int, since: float, until: float) -> float | None:
        """When the system's first snapshot in ``[since, until)`` was stored; None if none was."""

    async def systems_with_snapshots(self, since: float, until: float) -> list[int]:
        """The ids of the systems with a snapshot stored in ``[since, until)``, in one indexed
        read: the roll-up pass visits those, never the silent rest of the fleet."""

    async def snapshot_summaries(
        self,
        system_id: int,
        since: float,
        until: float,
        resolution: int,
        items: list[HistoryItem],
    ) -> list[SummaryRow]:
        """A system's snapshots in ``[since, until)`` summarised per bucket of ``resolution``
        seconds, by the database: one row per bucket and history item, and per bucket one row
        with the number of snapshots (``fleetwatch.store.summaries_sql`` tells the form)."""

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
