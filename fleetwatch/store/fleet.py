"""The fleet overview's record, tags' rules and the ``FleetStore`` protocol (``fleet_sql.py``
implements it for both backends)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from fleetwatch.model.tags import MAX_TAGS, check_tag, merged_tags

__all__ = [
    "FLEET_STATUSES",
    "MAX_TAGS",
    "FleetCounts",
    "FleetFilter",
    "FleetRow",
    "FleetStore",
    "check_tag",
    "merged_tags",
]

# What the fleet's pages call a system: an open STALE event makes it ``stale``; else it is
# ``up`` once it has reported, ``never seen`` before.
FLEET_STATUSES = ("up", "stale", "never seen")


@dataclass(frozen=True, slots=True)
class FleetRow:
    """A system, its tags, when its newest snapshot was taken and that snapshot's summary."""

    id: int
    name: str
    hostname: str | None
    source: str
    created_at: float
    last_seen: float | None
    tags: tuple[str, ...]
    snapshot_at: float | None
    summary: dict[str, Any]
    open_events: int
    stale: bool = False  # an open STALE event: the same answer on every hub of a database


@dataclass(frozen=True, slots=True)
class FleetFilter:
    """Which systems a fleet page lists: all of them when every field is empty."""

    name: str = ""  # a part of the name, any case
    tag: str = ""  # a tag the system carries
    status: str = ""  # one of FLEET_STATUSES


@dataclass(frozen=True, slots=True)
class FleetCounts:
    """The whole fleet in a few numbers: systems by status, open events, the tags in use."""

    statuses: dict[str, int]
    open_events: int
    tags: list[str]


class FleetStore(Protocol):
    async def fleet_overview(self) -> list[FleetRow]:
        """Every system (not the checks' own) by name, with its newest summary, in one read."""

    async def fleet_page(
        self, where: FleetFilter, *, offset: int = 0, limit: int | None = None
    ) -> tuple[list[FleetRow], int]:
        """The matching systems by name, ``limit`` of them (None: all) from ``offset``, and how
        many match; the rows' reads (newest summary, open events) run for the page only."""

    async def fleet_counts(self) -> FleetCounts:
        """The systems (not the checks' own) by status (FLEET_STATUSES), their open events and
        their tags, in a few reads whatever the fleet's size."""

    async def system_names(self, system_ids: list[int]) -> dict[int, str]:
        """The names of the systems ``system_ids``, by id, in one read."""

    async def latest_stats(self, system_ids: list[int]) -> dict[int, tuple[float, dict[str, Any]]]:
        """Each system's newest snapshot's time and normalised stats, in one read; systems
        without a snapshot are left out."""

    async def fleet_version(self) -> tuple[object, ...]:
        """Cheap to read, and different whenever the fleet overview or a check state is."""

    async def system_tags(self, name: str) -> list[str]:
        """A system's tags; ``NotFound``."""

    async def tag_system(
        self, name: str, add: Iterable[str] = (), remove: Iterable[str] = ()
    ) -> list[str]:
        """Add and remove tags of a system; its tags after. ``NotFound``, ``ValueError``."""

    async def check_object_tags(self, host: str, service: str = "") -> list[str]:
        """A host's (``service`` empty) or service's tags; ``NotFound``."""

    async def tag_check_object(
        self, host: str, service: str = "", add: Iterable[str] = (), remove: Iterable[str] = ()
    ) -> list[str]:
        """Add and remove tags of a host or service; its tags after."""

    async def all_check_object_tags(self) -> dict[tuple[str, str], list[str]]:
        """Every tagged host and service's tags, by (host, service description)."""
