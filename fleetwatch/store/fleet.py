"""The fleet overview's record, tags' rules and the ``FleetStore`` protocol (``fleet_sql.py``
implements it for both backends)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any, Protocol

from fleetwatch.model.tags import MAX_TAGS, check_tag, merged_tags

__all__ = ["MAX_TAGS", "FleetRow", "FleetStore", "check_tag", "merged_tags"]


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


class FleetStore(Protocol):
    async def fleet_overview(self) -> list[FleetRow]:
        """Every system (not the checks' own) by name, with its newest summary, in one read."""

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
