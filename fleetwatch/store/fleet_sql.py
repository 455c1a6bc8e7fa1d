"""``FleetStore`` in SQL both backends speak: the fleet in one read, and tags.

``fleet_overview`` answers every system with the summary of its newest snapshot and its count of
open events in one statement, whatever the fleet's size: each system's newest snapshot is one
seek in the ``(system_id, created_at)`` index, and only the small ``summary`` column is read,
never a whole document.

Tags are kept on systems, hosts and services as a sorted JSON array (migration 0006).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from .base import decode_json, encode_json
from .errors import NotFound
from .fleet import FleetRow, merged_tags
from .identity_sql import IdentitySQL

__all__ = ["FleetSQL"]

# The checks' internal system (source 'checks') owns passive-check events; it is no machine.
_FLEET = (
    "SELECT s.id, s.name, s.hostname, s.source, s.created_at, s.last_seen, s.tags,"
    " n.created_at, n.summary,"
    " (SELECT count(*) FROM events e WHERE e.system_id = s.id AND e.end_at < 0)"
    " FROM systems s LEFT JOIN snapshots n ON n.id = (SELECT m.id FROM snapshots m"
    "  WHERE m.system_id = s.id ORDER BY m.created_at DESC LIMIT 1)"
    " WHERE s.source <> 'checks' ORDER BY s.name"
)


def _json(value: Any) -> Any:
    return decode_json(value) if isinstance(value, str | bytes) else value


# What changes when anything the fleet overview shows changes, read in a few index look-ups: a
# new snapshot or event (an event ends with the snapshot or check result that ends it), a check
# object's saved state, a system added, removed or retagged.
_FLEET_VERSION = (
    "SELECT (SELECT max(id) FROM snapshots), (SELECT max(id) FROM events),"
    " (SELECT count(*) FROM systems), (SELECT sum(length({tags})) FROM systems),"
    " (SELECT sum(version) FROM check_objects)"
)


class FleetSQL(IdentitySQL):
    """Mixed into a backend: the fleet read and the tag writes."""

    dialect: str

    async def fleet_version(self) -> tuple[object, ...]:
        """A value that differs whenever ``fleet_overview`` (or a check's state) would."""
        tags = "tags" if self.dialect == "sqlite" else "tags::text"
        rows = await self._select(_FLEET_VERSION.format(tags=tags), ())
        return tuple(rows[0])

    async def fleet_overview(self) -> list[FleetRow]:
        return [_fleet_row(row) for row in await self._select(_FLEET, ())]

    async def system_tags(self, name: str) -> list[str]:
        rows = await self._select("SELECT tags FROM systems WHERE name = ?", (name,))
        if not rows:
            raise NotFound(f"no system named {name!r}")
        return list(_json(rows[0][0]) or [])

    async def tag_system(
        self, name: str, add: Iterable[str] = (), remove: Iterable[str] = ()
    ) -> list[str]:
        """Add and remove tags of a system; its tags after. ``NotFound``, ``ValueError``."""
        tags = merged_tags(await self.system_tags(name), add, remove)
        await self._change("UPDATE systems SET tags = ? WHERE name = ?", (encode_json(tags), name))
        return tags

    async def check_object_tags(self, host: str, service: str = "") -> list[str]:
        rows = await self._select(
            "SELECT tags FROM check_objects WHERE host_name = ? AND service_description = ?",
            (host, service),
        )
        if not rows:
            what = f"service {service!r} on host {host!r}" if service else f"host {host!r}"
            raise NotFound(f"no {what}")
        return list(_json(rows[0][0]) or [])

    async def tag_check_object(
        self, host: str, service: str = "", add: Iterable[str] = (), remove: Iterable[str] = ()
    ) -> list[str]:
        """Add and remove tags of a host (``service`` empty) or service; its tags after."""
        tags = merged_tags(await self.check_object_tags(host, service), add, remove)
        await self._change(
            "UPDATE check_objects SET tags = ? WHERE host_name = ? AND service_description = ?",
            (encode_json(tags), host, service),
        )
        return tags

    async def all_check_object_tags(self) -> dict[tuple[str, str], list[str]]:
        """Every tagged host and service's tags, by (host, service)."""
        rows = await self._select(
            "SELECT host_name, service_description, tags FROM check_objects", ()
        )
        out = {}
        for host, service, tags in rows:
            found = list(_json(tags) or [])
            if found:
                out[(str(host), str(service))] = found
        return out


def _fleet_row(row: tuple[Any, ...]) -> FleetRow:
    sid, name, hostname, source, created, last_seen, tags, snapshot_at, summary, events = row
    return FleetRow(
        id=int(sid),
        name=str(name),
        hostname=hostname,
        source=str(source),
        created_at=float(created),
        last_seen=last_seen,
        tags=tuple(_json(tags) or ()),
        snapshot_at=snapshot_at,
        summary=_json(summary) or {},
        open_events=int(events or 0),
    )
