"""``FleetStore`` in SQL both backends speak: the fleet in one read, and tags.

``fleet_overview`` answers every system with the summary of its newest snapshot and its count of
open events in one statement, whatever the fleet's size: each system's newest snapshot is one
seek in the ``(system_id, created_at)`` index, and only the small ``summary`` column is read,
never a whole document; except on PostgreSQL, which stores no summary since migration 0018: the
packed document comes along, and the summary derived from it is kept by snapshot id
(``SummaryCache``), so a system is derived again only once it has pushed since.

Tags are kept on systems, hosts and services as a sorted JSON array (migration 0006).
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterable
from typing import Any

from .base import encode_json
from .errors import NotFound
from .fleet import FLEET_STATUSES, FleetCounts, FleetFilter, FleetRow, merged_tags
from .identity_sql import IdentitySQL
from .packing import json_value
from .pg_snapshots import SummaryCache, normalized_of, unpack_json

__all__ = ["FleetSQL"]


# A fleet page: the page's system ids first (the filters and the name index only), then each
# row's reads (the newest snapshot's summary, one seek in (system_id, created_at); the open
# events, probes of migration 0013's index of open events) for those ids alone, so a page of 50
# out of 10,000 costs 50 seeks, not 10,000.
_STALE = (
    "EXISTS (SELECT 1 FROM events x WHERE x.system_id = s.id AND x.end_at < 0 AND x.type = 'STALE')"
)
_STATUS = {
    "stale": _STALE,
    "never seen": f"s.last_seen IS NULL AND NOT {_STALE}",
    "up": f"s.last_seen IS NOT NULL AND NOT {_STALE}",
}
_PAGE = (
    "WITH page AS (SELECT s.id, s.name FROM systems s WHERE {where}"  # noqa: S608
    " ORDER BY s.name LIMIT ? OFFSET ?)"
    " SELECT s.id, s.name, s.hostname, s.source, s.created_at, s.last_seen, s.tags,"
    " n.created_at, n.{summary},"
    " (SELECT count(*) FROM events e WHERE e.system_id = s.id AND e.end_at < 0), "
    + _STALE
    + "{derive}"
    " FROM page JOIN systems s ON s.id = page.id"
    " LEFT JOIN snapshots n ON n.id = (SELECT m.id FROM snapshots m"
    "  WHERE m.system_id = s.id ORDER BY m.created_at DESC LIMIT 1)"
    " ORDER BY page.name"
)
_TOTAL = "SELECT count(*) FROM systems s WHERE {where}"
_COUNTS = (
    "SELECT count(*), count(s.last_seen),"  # noqa: S608 - constant fragments, no input
    " coalesce(sum(CASE WHEN " + _STALE + " THEN 1 ELSE 0 END), 0)"
    " FROM systems s WHERE s.source <> 'checks'"
)
_OPEN_EVENTS = (
    "SELECT count(*) FROM events e JOIN systems s ON s.id = e.system_id"
    " WHERE e.end_at < 0 AND s.source <> 'checks'"
)
_TAGS = {
    "sqlite": "SELECT DISTINCT t.value FROM systems s, json_each(s.tags) t"
    " WHERE s.source <> 'checks' ORDER BY 1",
    "postgres": "SELECT DISTINCT jsonb_array_elements_text(s.tags) FROM systems s"
    " WHERE s.source <> 'checks' ORDER BY 1",
}
_NAMES = "SELECT id, name FROM systems WHERE id IN ({ids})"
# PostgreSQL keeps the normal form packed, or derivable from the packed document (migration
# 0015): both are read, and the hub unpacks them.
_LATEST = (
    "SELECT n.system_id, n.created_at, {normalized} FROM systems s"
    " JOIN snapshots n ON n.id = (SELECT m.id FROM snapshots m"
    "  WHERE m.system_id = s.id ORDER BY m.created_at DESC LIMIT 1)"
    " WHERE s.id IN ({ids})"
)
# The checks' internal system (source 'checks') owns passive-check events; it is no machine.
_FLEET = (
    "SELECT s.id, s.name, s.hostname, s.source, s.created_at, s.last_seen, s.tags,"  # noqa: S608
    " n.created_at, n.{summary},"
    " (SELECT count(*) FROM events e WHERE e.system_id = s.id AND e.end_at < 0), "
    + _STALE
    + "{derive}"
    " FROM systems s LEFT JOIN snapshots n ON n.id = (SELECT m.id FROM snapshots m"
    "  WHERE m.system_id = s.id ORDER BY m.created_at DESC LIMIT 1)"
    " WHERE s.source <> 'checks' ORDER BY s.name"
)
ALL_ROWS = 2**62  # LIMIT for "no limit", in SQL both backends accept


_SUMMARY = {"sqlite": "summary", "postgres": "summary_z"}
# PostgreSQL derives the summaries it no longer stores (migration 0018) from these, which come
# last in a fleet row.
_DERIVE = {"sqlite": "", "postgres": ", n.id, n.source, n.document_z, n.normalized_z"}
_NORMALIZED = {"sqlite": "n.normalized", "postgres": "n.source, n.document_z, n.normalized_z"}


def _json(value: Any) -> Any:
    # A packed column (PostgreSQL's bytea) is unpacked; JSON text decoded; jsonb is decoded.
    return json_value(value)


def _normalized(row: tuple[Any, ...]) -> Any:
    if len(row) == 1:
        return _json(row[0])
    source, document_z, normalized_z = row
    return normalized_of(str(source), unpack_json(document_z), normalized_z)


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

    def _derived_summaries(self) -> SummaryCache:
        """This store's derived summaries (snapshot ids are one database's)."""
        found: SummaryCache | None = getattr(self, "_summary_cache", None)
        if found is None:
            found = SummaryCache()
            self._summary_cache = found
        return found

    async def fleet_version(self) -> tuple[object, ...]:
        """A value that differs whenever ``fleet_overview`` (or a check's state) would."""
        tags = "tags" if self.dialect == "sqlite" else "tags::text"
        rows = await self._select(_FLEET_VERSION.format(tags=tags), ())
        return tuple(rows[0])

    async def fleet_overview(self) -> list[FleetRow]:
        rows = await self._select(
            _FLEET.format(summary=_SUMMARY[self.dialect], derive=_DERIVE[self.dialect]), ()
        )
        return await _fleet_rows(rows, self._derived_summaries())

    def _fleet_where(self, where: FleetFilter) -> tuple[str, list[object]]:
        clauses, params = ["s.source <> 'checks'"], list[object]()
        if where.name:
            escaped = where.name.lower().replace("\\", "\\\\").replace("%", "\\%")
            clauses.append("lower(s.name) LIKE ? ESCAPE '\\'")
            params.append("%" + escaped.replace("_", "\\_") + "%")
        if where.tag:
            if self.dialect == "sqlite":
                clauses.append("EXISTS (SELECT 1 FROM json_each(s.tags) t WHERE t.value = ?)")
                params.append(where.tag)
            else:
                clauses.append("s.tags @> ?::jsonb")
                params.append(encode_json([where.tag]))
        if where.status:
            if where.status not in FLEET_STATUSES:
                raise ValueError(f"status must be one of {', '.join(FLEET_STATUSES)}")
            clauses.append(_STATUS[where.status])
        return " AND ".join(clauses), params

    async def fleet_page(
        self, where: FleetFilter, *, offset: int = 0, limit: int | None = None
    ) -> tuple[list[FleetRow], int]:
        condition, params = self._fleet_where(where)
        rows = await self._select(
            _PAGE.format(
                where=condition, summary=_SUMMARY[self.dialect], derive=_DERIVE[self.dialect]
            ),
            (*params, ALL_ROWS if limit is None else limit, offset),
        )
        found = await _fleet_rows(rows, self._derived_summaries())
        if limit is None and offset == 0:
            return found, len(found)
        total = await self._select(_TOTAL.format(where=condition), params)
        return found, int(total[0][0])

    async def fleet_counts(self) -> FleetCounts:
        everyone, seen, stale = (await self._select(_COUNTS, ()))[0]
        # A stale system has been seen (a STALE event follows a report), so seen - stale are up.
        stale = int(stale)
        statuses = {"up": max(int(seen) - stale, 0), "stale": stale,
                    "never seen": max(int(everyone) - int(seen), 0)}  # fmt: skip
        events = int((await self._select(_OPEN_EVENTS, ()))[0][0])
        tags = [str(row[0]) for row in await self._select(_TAGS[self.dialect], ())]
        return FleetCounts(statuses, events, tags)

    def _id_list(self, sql: str, system_ids: list[int]) -> tuple[str, object]:
        """``sql`` with ``{ids}`` made a set of ids, and its one parameter: a list travels as
        JSON text to SQLite, as an array to PostgreSQL."""
        if self.dialect == "sqlite":
            return sql.format(ids="SELECT value FROM json_each(?)"), encode_json(system_ids)
        return sql.format(ids="SELECT unnest(?::bigint[])"), list(system_ids)

    async def system_names(self, system_ids: list[int]) -> dict[int, str]:
        if not system_ids:
            return {}
        sql, ids = self._id_list(_NAMES, system_ids)
        return {int(sid): str(name) for sid, name in await self._select(sql, (ids,))}

    async def latest_stats(self, system_ids: list[int]) -> dict[int, tuple[float, dict[str, Any]]]:
        if not system_ids:
            return {}
        latest = _LATEST.replace("{normalized}", _NORMALIZED[self.dialect])
        sql, ids = self._id_list(latest, system_ids)
        rows = await self._select(sql, (ids,))
        return {int(row[0]): (float(row[1]), _normalized(row[2:]) or {}) for row in rows}

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


# Decoding this many summaries (the whole 10,000-system fleet: ~0.1 s) runs in a worker thread:
# the event loop keeps answering submissions meanwhile.
THREAD_ROWS = 500


async def _fleet_rows(rows: list[tuple[Any, ...]], derived: SummaryCache) -> list[FleetRow]:
    if len(rows) < THREAD_ROWS:
        return [_fleet_row(row, derived) for row in rows]
    return await asyncio.to_thread(lambda: [_fleet_row(row, derived) for row in rows])


def _fleet_row(row: tuple[Any, ...], derived: SummaryCache) -> FleetRow:
    sid, name, hostname, source, created, last_seen, tags, snapshot_at, summary, events = row[:10]
    return FleetRow(
        id=int(sid),
        name=str(name),
        hostname=hostname,
        source=str(source),
        created_at=float(created),
        last_seen=last_seen,
        tags=tuple(_json(tags) or ()),
        snapshot_at=snapshot_at,
        summary=_summary(summary, row[11:], derived) or {},
        open_events=int(events or 0),
        stale=bool(row[10]) if len(row) > 10 else False,
    )


def _summary(summary: Any, derive_from: tuple[Any, ...], derived: SummaryCache) -> Any:
    if summary != b"" or not derive_from or derive_from[0] is None:
        return _json(summary)
    snapshot_id, source, document_z, normalized_z = derive_from
    return derived.summary(int(snapshot_id), str(source), bytes(document_z), normalized_z)
