"""The collections of the list endpoints, and the SQL that pages, counts and estimates them.

Each ``Collection`` names its record fields once: where each lives (a column, an expression, or
a JSON column) and how a row's value becomes JSON. The query translator gets its ``FieldMap``
from the same list, so what a client can filter and sort on is exactly what it sees.

``total`` is exact up to ``exact_limit`` matches, counted with a bounded scan; above that it is
an estimate (PostgreSQL: the planner's row estimate, asked first and trusted outright when it is
far above the bound; SQLite: the share of matches among the newest rows, scaled to the table's
id range), so no request ever counts a million rows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from .packing import json_value
from .pg_snapshots import COARSE_SQL, FIGURE_COLUMNS, coarse, summary_of_row
from .query_fields import Column, ColumnKind, FieldMap, Key
from .query_split import Packed
from .query_sql import SQL, Dialect

__all__ = [
    "COLLECTIONS",
    "SNAPSHOT_FIELDS",
    "Collection",
    "Field",
    "iso_utc",
]

Row = tuple[Any, ...]
FieldKind = Literal["boolean", "integer", "number", "text", "timestamp", "json"]
Render = Callable[[Any], Any]

ESTIMATE_SAMPLE = 10_000  # newest rows SQLite looks at to estimate a large total


def iso_utc(epoch: float | None) -> str | None:
    """Epoch seconds as ISO 8601 UTC with milliseconds, as Rocket.Chat writes dates."""
    if epoch is None:
        return None
    moment = dt.datetime.fromtimestamp(epoch, dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _as_is(value: Any) -> Any:
    return value


def _text_id(value: Any) -> Any:
    return None if value is None else str(value)


def _boolean(value: Any) -> Any:
    return None if value is None else bool(value)


def _json(value: Any) -> Any:
    return json_value(value)  # packed (PostgreSQL's snapshots), JSON text or decoded jsonb


_RENDER: dict[ColumnKind, Render] = {
    "integer": _as_is,
    "number": _as_is,
    "text": _as_is,
    "timestamp": iso_utc,
    "boolean": _boolean,
}


@dataclass(frozen=True, slots=True)
class Field:
    """One top-level field: ``kind`` "json" for a JSON column, else a column kind."""

    name: str
    sql: str
    kind: FieldKind
    render: Render | None = None
    key: Key | None = None

    def to_json(self, value: Any) -> Any:
        if self.render is not None:
            return self.render(value)
        return _json(value) if self.kind == "json" else _RENDER[self.kind](value)


@dataclass(frozen=True, slots=True)
class Collection:
    """A list endpoint's records: ``SELECT <fields> FROM <source> WHERE <scope> AND <filter>``.

    ``document`` (statistics only) is a JSON column whose members are spread into the record
    beside the fields, the fields winning a clash. ``table``/``id_sql`` let SQLite estimate
    large totals from the id range.

    SQLite keeps no statistics of how many rows a condition matches, so given an indexed
    condition and an ORDER BY ... LIMIT it uses the condition's index and sorts every match,
    even when matches are plenty and walking the sort field's index would stop after a few
    hundred rows (2,287 ms against 4.5 ms for a page of ``summary.cpu_percent > 90``, newest
    first, over 1M snapshots, a tenth of them matching). The sample taken to estimate a large
    ``total`` tells which case it is; ``ordered_sources`` is the FROM clause to use when matches
    are plenty among the newest rows and the page is sorted by that field alone, descending.
    """

    name: str
    fields: tuple[Field, ...]
    source: str
    table: str
    id_sql: str
    scope: str = "TRUE"
    document: str | None = None
    default_sort: str = '{"_id": -1}'
    # SQLite only: the FROM clause that makes the planner walk this sort field's index.
    ordered_sources: Mapping[str, str] = field(default_factory=dict)
    # The alias of the joined table: counts skip the join when the filter does not use it
    # (foreign keys with ON DELETE CASCADE guarantee every row has its partner).
    joined: str | None = None
    # PostgreSQL only: JSON columns kept packed there (migration 0015), read by the hub: the
    # column each is selected from, and which paths have columns of their own.
    packed_sql: Mapping[str, str] = field(default_factory=dict)
    packed: Packed | None = None
    # PostgreSQL only: columns read after the document to derive what a row no longer stores
    # (an empty frame), and the derivation: (the row, its decoded document) -> the value.
    packed_extra: tuple[str, ...] = ()
    derive: Callable[[Row, Any], Any] | None = None
    derived_json: frozenset[str] = frozenset()  # the JSON columns ``derive`` gives
    # What the query translator may name, derived once from ``fields`` (read on every request).
    field_map: FieldMap = field(init=False)

    def __post_init__(self) -> None:
        columns = {f.name: Column(f.sql, f.kind, f.key) for f in self.fields if f.kind != "json"}
        json_columns = {f.name: f.sql for f in self.fields if f.kind == "json"}
        scalar = frozenset({"summary"}) & frozenset(json_columns)
        derived = FieldMap(columns, json_columns, self.document, self.id_sql, scalar)
        object.__setattr__(self, "field_map", derived)  # frozen: set once, here

    def select_list(self, dialect: Dialect = "sqlite") -> str:
        sqls = [f.sql for f in self.fields]
        if self.document is not None:
            sqls.append(self.document)
        if dialect == "postgres":
            sqls = [self.packed_sql.get(sql, sql) for sql in sqls]
            sqls.extend(self.packed_extra)
        return ", ".join(sqls)

    @property
    def derived_fields(self) -> tuple[str, ...]:
        """The fields ``derive`` gives (those whose SQL is a ``derived_json`` column)."""
        return tuple(f.name for f in self.fields if f.sql in self.derived_json)

    def record(self, row: Row, *, derive: bool = True) -> dict[str, Any]:
        """The record as served; ``derive`` False leaves what the row does not store None."""
        return self._built(row, derive, _served)

    def raw_record(self, row: Row, *, derive: bool = True) -> dict[str, Any]:
        """The record as ``query_eval.evaluate`` reads it: columns as stored (ids as numbers,
        times as epoch seconds), JSON decoded; ``derive`` False leaves what a row does not
        store None (a filter that does not read it: a derivation costs ~60 µs)."""
        return self._built(row, derive, _raw)

    def _built(
        self, row: Row, derive: bool, convert: Callable[[Field, Any], Any]
    ) -> dict[str, Any]:
        document = self._document(row)
        record = dict(document) if isinstance(document, dict) else {}
        for spec, value in zip(self.fields, row, strict=False):
            if value == b"" and self.derive is not None:  # an empty frame: not stored
                record[spec.name] = self.derive(row, document) if derive else None
            else:
                record[spec.name] = convert(spec, value)
        return record

    def _document(self, row: Row) -> Any:
        """The decoded document (statistics), whose members the fields then override."""
        return _json(row[len(self.fields)]) if self.document is not None else None


def _served(spec: Field, value: Any) -> Any:
    return spec.to_json(value)


def _raw(spec: Field, value: Any) -> Any:
    return _json(value) if spec.kind == "json" else value


def _where(collection: Collection, where: SQL) -> SQL:
    return SQL(f"({collection.scope}) AND ({where.text})", dict(where.params))


def _placeholder(name: str, dialect: Dialect) -> str:
    return f":{name}" if dialect == "sqlite" else f"%({name})s"


def page_sql(
    collection: Collection,
    where: SQL,
    order: SQL,
    dialect: Dialect,
    *,
    offset: int,
    limit: int | None,
    source: str | None = None,
) -> SQL:
    """The page's query; ``limit`` None reads every match (the streamed ``count=0``);
    ``source`` replaces the collection's FROM clause (one of its ``ordered_sources``)."""
    scoped = _where(collection, where)
    text = (
        f"SELECT {collection.select_list(dialect)} FROM {source or collection.source}"
        f" WHERE {scoped.text} ORDER BY {order.text}"
    )
    params: dict[str, object] = {**scoped.params, **order.params}
    if limit is not None:
        text += f" LIMIT {_placeholder('fw_limit', dialect)}"
        params["fw_limit"] = limit
    elif dialect == "sqlite" and offset:
        text += " LIMIT -1"  # SQLite's OFFSET needs a LIMIT
    if offset:
        text += f" OFFSET {_placeholder('fw_offset', dialect)}"
        params["fw_offset"] = offset
    return SQL(text, params)


def _count_source(collection: Collection, scoped: SQL) -> str:
    if collection.joined is not None and f"{collection.joined}." not in scoped.text:
        return collection.table
    return collection.source


def _sample_source(collection: Collection, scoped: SQL) -> str:
    # Without the join, NOT INDEXED leaves SQLite the id range alone: a condition's own index
    # would visit every match in the table, not just the newest rows.
    source = _count_source(collection, scoped)
    return f"{source} NOT INDEXED" if source == collection.table else source


def count_sql(
    collection: Collection,
    where: SQL,
    dialect: Dialect,
    *,
    cap: int,
) -> SQL:
    """Counts matches, but stops at ``cap + 1``: more than ``cap`` means "estimate instead"."""
    scoped = _where(collection, where)
    text = (
        f"SELECT count(*) FROM (SELECT 1 FROM {_count_source(collection, scoped)}"
        f" WHERE {scoped.text}"
        f" LIMIT {_placeholder('fw_cap', dialect)}) AS capped"
    )
    return SQL(text, {**scoped.params, "fw_cap": cap + 1})


def explain_sql(collection: Collection, where: SQL) -> SQL:
    """PostgreSQL's plan for the matches, whose top node's ``Plan Rows`` is the estimate."""
    scoped = _where(collection, where)
    return SQL(
        f"EXPLAIN (FORMAT JSON) SELECT 1 FROM {collection.source} WHERE {scoped.text}",
        scoped.params,
    )


def id_range_sql(collection: Collection) -> str:
    """The smallest and largest id of the collection's main table. Two subqueries: SQLite
    answers a lone min() or max() from the index's end, but both in one SELECT by a scan."""
    low = f"SELECT min({collection.id_sql}) FROM {collection.table}"
    high = f"SELECT max({collection.id_sql}) FROM {collection.table}"
    return f"SELECT ({low}), ({high})"


def sample_sql(
    collection: Collection,
    where: SQL,
    *,
    newest_from: int,
) -> SQL:
    """SQLite: the matches among rows whose id is at least ``newest_from``."""
    scoped = _where(collection, where)
    text = (
        f"SELECT count(*) FROM {_sample_source(collection, scoped)} WHERE {scoped.text}"
        f" AND {collection.id_sql} >= :fw_from"
    )
    return SQL(text, {**scoped.params, "fw_from": newest_from})


# -- the collections


def _derived_summary(row: Row, document: Any) -> Any:
    # A PostgreSQL statistics row: its fields, the document, then the normal form's frame.
    source = row[_STATISTICS_SOURCE]
    return summary_of_row(None, str(source), document, row[len(STATISTICS.fields) + 1])


_STATE_TYPE = "CASE {t}.state_type WHEN 'HARD' THEN 1 ELSE 0 END"

STATISTICS = Collection(
    name="statistics",
    fields=(
        Field("_id", "s.id", "integer", _text_id),
        Field("systemId", "s.system_id", "integer", _text_id),
        Field("system", "y.name", "text", key=Key("s.system_id", "systems")),
        Field("createdAt", "s.created_at", "timestamp"),
        Field("_updatedAt", "s.created_at", "timestamp"),
        Field("source", "s.source", "text"),
        Field("hostname", "s.hostname", "text"),
        Field("summary", "s.summary", "json"),
        Field("tags", "y.tags", "json"),  # the system's
    ),
    source="snapshots AS s JOIN systems AS y ON y.id = s.system_id",
    table="snapshots AS s",
    id_sql="s.id",
    document="s.document",
    default_sort='{"createdAt": -1}',
    joined="y",
    ordered_sources={
        name: "snapshots AS s INDEXED BY snapshots_created JOIN systems AS y ON y.id = s.system_id"
        for name in ("createdAt", "_updatedAt")
    },
    packed_sql={"s.summary": "s.summary_z", "s.document": "s.document_z"},
    packed_extra=("s.normalized_z",),
    derive=_derived_summary,
    derived_json=frozenset({"s.summary"}),
    packed=Packed(
        json_sql=frozenset({"s.summary", "s.document"}),
        figures_in="s.summary",
        figures={name: f"s.{name}" for name in FIGURE_COLUMNS},
        coarse_sql={name: COARSE_SQL.format(column=f"s.{name}") for name in FIGURE_COLUMNS},
        coarse=coarse,
        named=("s.hostname", "s.system_id"),
    ),
)

_STATISTICS_SOURCE = [f.name for f in STATISTICS.fields].index("source")

SYSTEMS = Collection(
    name="systems",
    fields=(
        Field("_id", "y.id", "integer", _text_id),
        Field("name", "y.name", "text"),
        Field("hostname", "y.hostname", "text"),
        Field("source", "y.source", "text"),
        Field("createdAt", "y.created_at", "timestamp"),
        Field("lastSeen", "y.last_seen", "timestamp"),
        Field("tags", "y.tags", "json"),
    ),
    source="systems AS y",
    table="systems AS y",
    id_sql="y.id",
    # The hub's internal owner of passive-check events is not a machine of the fleet.
    scope="y.source <> 'checks'",
    default_sort='{"name": 1}',
)


def _object_fields(t: str) -> tuple[Field, ...]:
    return (
        Field("state", f"{t}.state", "integer"),
        Field("state_type", _STATE_TYPE.format(t=t), "integer"),
        Field("state_type_name", f"{t}.state_type", "text"),
        Field("current_attempt", f"{t}.attempt", "integer"),
        Field("max_check_attempts", f"{t}.max_check_attempts", "integer"),
        Field("plugin_output", f"{t}.output", "text"),
        Field("long_plugin_output", f"{t}.long_output", "text"),
        Field("perf_data", f"{t}.perfdata", "text"),
        Field("has_been_checked", f"{t}.has_been_checked", "boolean"),
        Field("last_check", f"{t}.last_check", "timestamp"),
        # 0 in the table until a first change; null here, as last_check is (not 1970).
        Field("last_state_change", f"NULLIF({t}.last_state_change, 0)", "timestamp"),
        Field("last_hard_state", f"{t}.last_hard_state", "integer"),
        Field("last_hard_state_change", f"NULLIF({t}.last_hard_state_change, 0)", "timestamp"),
        Field("acknowledged", f"{t}.acknowledged", "boolean"),
        Field("scheduled_downtime_depth", f"{t}.downtime_depth", "integer"),
        Field("is_stale", f"{t}.is_stale", "boolean"),
        Field("check_freshness", f"{t}.check_freshness", "boolean"),
        Field("freshness_threshold", f"{t}.freshness_threshold", "number"),
        Field("stale_state", f"{t}.stale_state", "integer"),
        Field("accept_passive_checks", f"{t}.passive_checks_enabled", "boolean"),
        Field("notes", f"{t}.notes", "text"),
        Field("createdAt", f"{t}.created_at", "timestamp"),
        Field("tags", f"{t}.tags", "json"),
    )


HOSTS = Collection(
    name="hosts",
    fields=(
        Field("_id", "o.id", "integer", _text_id),
        Field("host_name", "o.host_name", "text"),
        *_object_fields("o"),
    ),
    source="check_objects AS o",
    table="check_objects AS o",
    id_sql="o.id",
    scope="o.kind = 'host'",
    default_sort='{"host_name": 1}',
)

SERVICES = Collection(
    name="services",
    fields=(
        Field("_id", "o.id", "integer", _text_id),
        Field("host_name", "o.host_name", "text"),
        Field("service_description", "o.service_description", "text"),
        *_object_fields("o"),
    ),
    source="check_objects AS o",
    table="check_objects AS o",
    id_sql="o.id",
    scope="o.kind = 'service'",
    default_sort='{"host_name": 1, "service_description": 1}',
)

CHECK_RESULTS = Collection(
    name="checkresults",
    fields=(
        Field("_id", "r.id", "integer", _text_id),
        Field("objectId", "r.object_id", "integer", _text_id),
        Field("kind", "o.kind", "text"),
        Field("host_name", "o.host_name", "text"),
        Field("service_description", "o.service_description", "text"),
        Field("checkedAt", "r.checked_at", "timestamp"),
        Field("state", "r.state", "integer"),
        Field("state_type", _STATE_TYPE.format(t="r"), "integer"),
        Field("state_type_name", "r.state_type", "text"),
        Field("current_attempt", "r.attempt", "integer"),
        Field("plugin_output", "r.output", "text"),
        Field("long_plugin_output", "r.long_output", "text"),
        Field("perf_data", "r.perfdata", "text"),
        Field("source", "r.source", "text"),
        Field("ttl", "r.ttl", "number"),
    ),
    source="check_results AS r JOIN check_objects AS o ON o.id = r.object_id",
    table="check_results AS r",
    id_sql="r.id",
    default_sort='{"checkedAt": -1}',
    joined="o",
    ordered_sources={
        "checkedAt": "check_results AS r INDEXED BY check_results_at"
        " JOIN check_objects AS o ON o.id = r.object_id"
    },
)

EVENTS = Collection(
    name="events",
    fields=(
        Field("_id", "e.id", "integer", _text_id),
        Field("systemId", "e.system_id", "integer", _text_id),
        Field("system", "y.name", "text", key=Key("e.system_id", "systems")),
        Field("begin", "e.begin_at", "timestamp"),
        Field("end", "CASE WHEN e.end_at < 0 THEN NULL ELSE e.end_at END", "timestamp"),
        Field("ongoing", "CASE WHEN e.end_at < 0 THEN 1 ELSE 0 END", "boolean"),
        Field("state", "e.state", "text"),
        Field("type", "e.type", "text"),
        Field("max", "e.value_max", "number"),
        Field("avg", "e.value_avg", "number"),
        Field("min", "e.value_min", "number"),
        Field("sum", "e.value_sum", "number"),
        Field("count", "e.count", "integer"),
        Field("top", "e.top", "json"),
        Field("desc", "e.description", "text"),
        Field("sort", "e.sort_key", "text"),
        Field("global_msg", "e.global_msg", "text"),
        Field("data", "e.data", "json"),
        Field("tags", "y.tags", "json"),  # the system's
    ),
    source="events AS e JOIN systems AS y ON y.id = e.system_id",
    table="events AS e",
    id_sql="e.id",
    default_sort='{"begin": -1}',
    joined="y",
    ordered_sources={
        "begin": "events AS e INDEXED BY events_begin JOIN systems AS y ON y.id = e.system_id"
    },
)

# The snapshot records' fields, as the translator's tests and examples use them.
SNAPSHOT_FIELDS = STATISTICS.field_map

COLLECTIONS: Mapping[str, Collection] = {
    c.name: c for c in (STATISTICS, SYSTEMS, HOSTS, SERVICES, CHECK_RESULTS, EVENTS)
}
