"""The Rocket.Chat-style list endpoints: ``statistics.list``, ``systems.list``, ``hosts.list``,
``services.list``, ``checkresults.list`` and ``events.list``.

Each takes ``query`` (a Mongo-style filter, JSON), ``fields`` (a projection), ``sort``,
``offset`` and ``count``, and answers ``{"<collection>": [...], "count", "offset", "total",
"success": true}``. The filter and sort become parameterised SQL (``store/query*``); the
projection runs here on the rows of the page. ``count`` is clamped to ``max_count``;
``count=0`` streams every match in batches, so memory stays flat whatever the size.
"""

from __future__ import annotations

import ast
import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import orjson
from starlette.requests import Request
from starlette.responses import Response, StreamingResponse

from fleetwatch.api.errors import QueryError, ServiceUnavailable
from fleetwatch.api.guard import Guard
from fleetwatch.api.lists_hub import SORT_MOST, Scan, Tally, hub_page, hub_sorted_ids, hub_stream
from fleetwatch.api.query_slots import QuerySlots, SlotTimeout
from fleetwatch.api.query_string import parse_query_string
from fleetwatch.auth.authenticator import Principal
from fleetwatch.auth.permissions import MANAGE_SYSTEMS
from fleetwatch.store import Store
from fleetwatch.store.errors import InvalidInput, QueryTimeout
from fleetwatch.store.listing import (
    ESTIMATE_SAMPLE,
    Collection,
    count_sql,
    explain_sql,
    id_range_sql,
    page_sql,
    sample_sql,
)
from fleetwatch.store.listing import Field as ListField
from fleetwatch.store.pg_snapshots import HOSTNAME_SYSTEMS
from fleetwatch.store.query import (
    SQL,
    Filter,
    Projection,
    QueryParameterError,
    SortKey,
    parse_fields,
    parse_query,
    parse_sort,
)
from fleetwatch.store.query_errors import InvalidQuery
from fleetwatch.store.query_split import HubPlan, Names, estimate_sql, named_values, translate

__all__ = ["ListLimits", "ListParams", "Lists", "parse_list_params"]

Enrich = Callable[[list[dict[str, Any]]], Awaitable[list[dict[str, Any]]]]
# WHERE, ORDER BY, what the hub does besides, and the WHERE the planner estimates totals from.
# WHERE, ORDER BY, what the hub does besides, what the planner estimates, what is counted.
Translated = tuple[SQL, SQL, HubPlan | None, SQL, SQL]
PARAMETERS = frozenset({"query", "fields", "sort", "offset", "count"})
STREAM_BATCH = 500
MAX_LITERAL = 65_536
# PostgreSQL: trust a row estimate this many times the exact bound, and never a small one (a
# table not yet analysed is guessed from its size in pages).
PLANNED_MARGIN, PLANNED_FLOOR = 3, 50_000
HINT_DENSITY = 0.01  # at least 1 match in 100 of the newest rows
# A query string longer than this is parsed and translated in a thread: 160 $elemMatch
# clauses (a 138 KB WHERE clause) cost ~19 ms of Python, time the event loop owes others.
PARSE_INLINE_CHARS = 2048


@dataclass(frozen=True, slots=True)
class ListLimits:
    """``[query]`` settings: the largest page, the exact-total bound, the time limit."""

    default_count: int = 50
    max_count: int = 100
    exact_total: int = 10_000
    time_limit: float = 10.0
    per_client: int = 1  # list queries and OP5 filters one principal may run at once


class Budget:
    """One request's time limit, shared by all its statements (the plan, the count, the page):
    each statement gets what is left, so the request ends within the limit, not a multiple."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.deadline = time.monotonic() + seconds

    def left(self) -> float:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise QueryTimeout(f"the query ran past {self.seconds:g} s")
        return remaining


@dataclass(frozen=True, slots=True)
class ListParams:
    query: Filter
    sort: tuple[SortKey, ...]
    projection: Projection
    offset: int
    count: int | None  # None: every match (count=0), streamed


def _invalid_params(detail: str) -> QueryError:
    error = QueryParameterError(detail)
    return QueryError(str(error), error.error_type)


MAX_INTEGER = 2**63 - 1  # OFFSET and LIMIT are 64-bit on both backends


def _integer(name: str, text: str) -> int:
    digits = text.strip()
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 19 or int(digits) > MAX_INTEGER:
        raise _invalid_params(
            f"{name} must be a whole number from 0 to {MAX_INTEGER}, not {text[:40]!r}"
        )
    return int(digits)


def parse_list_params(raw: str, collection: Collection, limits: ListLimits) -> ListParams:
    """The list parameters from a raw query string; ``QueryError`` naming the bad one."""
    values: dict[str, str] = {}
    for name, value in parse_query_string(raw):
        if name not in PARAMETERS:
            raise _invalid_params(f"unknown parameter {name[:40]!r}; known: "
                                  + ", ".join(sorted(PARAMETERS)))  # fmt: skip
        if name in values:
            raise _invalid_params(f"{name} is given more than once")
        values[name] = value
    fields = collection.field_map
    try:
        query = parse_query(_json_text(values.get("query")) or "{}", fields)
        sort = parse_sort(_json_text(values.get("sort")) or collection.default_sort, fields)
        projection = parse_fields(_json_text(values.get("fields")))
    except QueryParameterError as exc:
        raise QueryError(str(exc), exc.error_type) from None
    offset = _integer("offset", values["offset"]) if "offset" in values else 0
    count = _integer("count", values["count"]) if "count" in values else limits.default_count
    return ListParams(query, sort, projection, offset, min(count, limits.max_count) or None)


def _json_text(value: str | None) -> str | None:
    """``value`` as JSON text. ``rocketchat-API`` sends ``str(kwarg)``, so a dict given to it
    arrives as Python's repr (``{'a': True}``); such a literal (and only a literal) is read with
    ``ast.literal_eval`` and re-encoded, so the JSON parser and its limits still decide."""
    if value is None or len(value) > MAX_LITERAL or not value.lstrip().startswith(("{", "[")):
        return value
    try:
        orjson.loads(value)
    except orjson.JSONDecodeError:
        try:
            literal = ast.literal_eval(value)
            return orjson.dumps(literal).decode()
        except (
            ValueError,
            TypeError,
            SyntaxError,
            MemoryError,
            RecursionError,
            orjson.JSONEncodeError,
        ):
            return value  # the JSON parser will say what is wrong with it
    return value


class Lists:
    """The handlers; each collection's view permission comes with its route."""

    def __init__(
        self, guard: Guard, store: Store, limits: ListLimits, slots: QuerySlots | None = None
    ) -> None:
        self.guard = guard
        self.store = store
        self.limits = limits
        self.slots = slots or QuerySlots(limits.per_client)

    def handler(
        self, collection: Collection, permission: str
    ) -> Callable[[Request], Awaitable[Response]]:
        async def handle(request: Request) -> Response:
            principal = await self.guard.require(request, permission)
            raw = request.scope.get("query_string", b"").decode("latin-1")
            budget = Budget(self.limits.time_limit)
            try:
                # The slot is held from the translation on: a long query's parsing is Python
                # work too, and ten of them in threads at once starve the event loop.
                async with self.slots.hold(principal, budget.left()):
                    inline = len(raw) <= PARSE_INLINE_CHARS
                    if inline:
                        params = parse_list_params(raw, collection, self.limits)
                    else:
                        params = await asyncio.to_thread(
                            parse_list_params, raw, collection, self.limits
                        )
                    names = await self._names(collection, params, budget)
                    if inline:
                        sql = self._translated(params, collection, names)
                    else:
                        sql = await asyncio.to_thread(self._translated, params, collection, names)
                    return await self._answer(collection, params, sql, principal, budget)
            except (QueryTimeout, SlotTimeout):
                raise ServiceUnavailable(
                    f"the query ran past {self.limits.time_limit:g} s; narrow it", 1.0
                ) from None
            except InvalidInput as exc:  # e.g. a pattern PostgreSQL's regex engine refuses
                error = InvalidQuery(str(exc))
                raise QueryError(str(error), error.error_type) from None

        handle.__doc__ = f"The {collection.name} records, filtered, sorted, projected, paged."
        handle.openapi = _openapi(collection)  # type: ignore[attr-defined]
        return handle

    async def _names(
        self, collection: Collection, params: ListParams, budget: Budget
    ) -> Names | None:
        """PostgreSQL: the systems that sent each hostname the filter asks for by equality
        (migration 0018), so that their (system_id, created_at) index serves it."""
        packed = collection.packed
        if self.store.dialect != "postgres" or packed is None or packed.named is None:
            return None
        values = named_values(params.query, packed)
        if not values:
            return {}
        rows = await self.store.select(
            HOSTNAME_SYSTEMS, {"names": sorted(values)}, time_limit=budget.left()
        )
        found: dict[str, list[int]] = {}
        for value, row_id in rows:
            found.setdefault(str(value), []).append(int(row_id))
        return {value: tuple(ids) for value, ids in found.items()}

    def _translated(
        self, params: ListParams, collection: Collection, names: Names | None
    ) -> Translated:
        """The WHERE and ORDER BY the parameters translate to, and what the hub must do
        besides (packed JSON on PostgreSQL); ``QueryError``."""
        dialect = self.store.dialect
        packed = collection.packed if dialect == "postgres" else None
        try:
            where, order, plan = translate(
                params.query, params.sort, collection.field_map, dialect, packed, names
            )
            estimate = where if packed is None else estimate_sql(params.query, packed, dialect)
            counted = where
            if names:
                # Counted on the hostname's own index (index-only), not on its systems' rows:
                # the systems are only what orders a page.
                counted = translate(params.query, (), collection.field_map, dialect, packed)[0]
        except InvalidQuery as exc:
            raise QueryError(str(exc), exc.error_type) from None
        return where, order, plan, estimate, counted

    async def _answer(
        self,
        collection: Collection,
        params: ListParams,
        sql: Translated,
        principal: Principal,
        budget: Budget,
    ) -> Response:
        dialect = self.store.dialect
        where, order, plan, estimate, counted = sql
        if plan is not None:
            return await self._hub_answer(
                collection, params, (where, order, estimate, counted), plan, principal, budget
            )
        if dialect == "postgres" and params.count is not None:
            # The page does not depend on the total there: both at once, on two connections.
            page = page_sql(collection, where, order, dialect,
                            offset=params.offset, limit=params.count)  # fmt: skip
            (total, estimated, _), found = await asyncio.gather(
                self._total(collection, counted, budget, estimate),
                self.store.select(page.text, page.params, time_limit=budget.left()),
            )
            return await self._page(collection, params, principal, found, total, estimated)
        total, estimated, density = await self._total(collection, counted, budget, estimate)
        source = None
        if density >= HINT_DENSITY and len(params.sort) == 1 and params.sort[0].descending:
            # Plenty of matches among the newest rows: walking the sort index newest-first
            # reaches a page within a few thousand rows (see Collection.ordered_sources).
            source = collection.ordered_sources.get(params.sort[0].target.name)
        page = page_sql(
            collection, where, order, dialect,
            offset=params.offset, limit=params.count, source=source,
        )  # fmt: skip
        if params.count is None:
            limit = self.limits.time_limit  # per batch: a stream may outlast one limit
            rows = self.store.stream(page.text, page.params, batch=STREAM_BATCH, time_limit=limit)
            enrich = self._enrichment(collection, principal)
            body = _stream(collection, params.projection, enrich, rows,
                           _tail(params, total, estimated))  # fmt: skip
            return StreamingResponse(body, media_type="application/json")
        found = await self.store.select(page.text, page.params, time_limit=budget.left())
        return await self._page(collection, params, principal, found, total, estimated)

    async def _hub_answer(
        self,
        collection: Collection,
        params: ListParams,
        sql: tuple[SQL, SQL, SQL, SQL],
        plan: HubPlan,
        principal: Principal,
        budget: Budget,
    ) -> Response:
        """The page or stream when the hub filters or sorts part of it (``lists_hub``)."""
        where, order, estimate, counted = sql
        enrich = self._enrichment(collection, principal)
        if params.count is None:
            tally = Tally()
            ids = None
            if plan.sort is not None:  # ordered before the answer starts, in the time limit
                ordering = Scan(self.store, collection, where, order, budget.left)
                try:
                    ids = await hub_sorted_ids(ordering, plan, offset=params.offset,
                                               tally=tally, most=SORT_MOST)  # fmt: skip
                except InvalidQuery as exc:
                    raise QueryError(str(exc), exc.error_type) from None
            limit = self.limits.time_limit  # per batch, as for a stream in SQL
            scan = Scan(self.store, collection, where, order, lambda: limit)
            rows = hub_stream(scan, plan, offset=params.offset, tally=tally, ids=ids)
            body = _stream(collection, params.projection, enrich, rows,
                           {"offset": params.offset}, total=lambda: tally.matched)  # fmt: skip
            return StreamingResponse(body, media_type="application/json")

        async def candidates() -> tuple[int, bool]:
            total, estimated, _ = await self._total(collection, counted, budget, estimate)
            return total, estimated

        scan = Scan(self.store, collection, where, order, budget.left)
        found, total, estimated = await hub_page(
            scan, plan, offset=params.offset, count=params.count,
            cap=self.limits.exact_total, total=candidates,
        )  # fmt: skip
        return await self._page(collection, params, principal, found, total, estimated)

    async def _page(
        self,
        collection: Collection,
        params: ListParams,
        principal: Principal,
        found: list[tuple[Any, ...]],
        total: int,
        estimated: bool,
    ) -> Response:
        enrich = self._enrichment(collection, principal)
        found_records = _records(collection, found, params.projection)
        records = [params.projection.apply(r) for r in await enrich(found_records)]
        tail = _tail(params, total, estimated)
        body_bytes = orjson.dumps(
            {collection.name: records, "count": len(records), **tail, "success": True}
        )
        return Response(body_bytes, media_type="application/json")

    def _enrichment(self, collection: Collection, principal: Principal) -> Enrich:
        """What a page's records gain beyond their row: a system's token names, for those who
        manage systems (the admin view the CLI's ``system list`` gives)."""
        if collection.name != "systems" or not principal.can(MANAGE_SYSTEMS):
            return _as_is
        store = self.store

        async def with_tokens(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
            for record in records:
                tokens = await store.list_system_tokens(int(record["_id"]))
                record["tokens"] = [
                    {"name": t.name, "prefix": t.prefix, "createdAt": t.created_at} for t in tokens
                ]
            return records

        return with_tokens

    async def _total(
        self, collection: Collection, where: SQL, budget: Budget, planned_where: SQL | None = None
    ) -> tuple[int, bool, float]:
        """The number of matches, exact up to ``exact_total``, estimated above it (PostgreSQL:
        the plan of ``planned_where``, a condition the planner estimates better); and
        (SQLite) the share of matches among the newest rows, 0 where unknown."""
        cap = self.limits.exact_total
        planned = 0.0
        if self.store.dialect == "postgres":
            # The planner's estimate first (a millisecond): when it is far above the bound,
            # counting even the first matches would read rows the estimate already vouches for.
            plan = explain_sql(collection, planned_where or where)
            rows = await self.store.select(plan.text, plan.params, time_limit=budget.left())
            document = rows[0][0]
            if isinstance(document, str | bytes):
                document = orjson.loads(document)
            planned = float(document[0]["Plan"]["Plan Rows"])
            if planned > max(PLANNED_MARGIN * cap, PLANNED_FLOOR):
                return round(planned), True, 0.0
        counted = count_sql(collection, where, self.store.dialect, cap=cap)
        exact = int(
            (await self.store.select(counted.text, counted.params, time_limit=budget.left()))[0][0]
        )
        if exact <= cap:
            return exact, False, 0.0
        if self.store.dialect == "postgres":
            estimate, density = planned, 0.0
        else:
            low, high = (
                await self.store.select(id_range_sql(collection), {}, time_limit=budget.left())
            )[0]
            start = max(int(low), int(high) - ESTIMATE_SAMPLE + 1)
            sampled = sample_sql(collection, where, newest_from=start)
            hits = (
                await self.store.select(sampled.text, sampled.params, time_limit=budget.left())
            )[0][0]
            density = int(hits) / (int(high) - start + 1)
            estimate = density * (int(high) - int(low) + 1)
        return max(cap + 1, round(estimate)), True, density


_PARAMETER_DOCS = {
    "query": 'A Mongo-style filter, JSON (e.g. {"system": "nas1"})',
    "fields": 'A projection, JSON: {"name": 1} keeps, {"name": 0} drops',
    "sort": 'JSON, 1 or -1 per key, e.g. {"createdAt": -1}',
    "offset": "Records to skip (default 0)",
    "count": "Records per page (default 50, at most query.max_count; 0 streams every match)",
}


def _openapi(collection: Collection) -> dict[str, Any]:
    whole = {"type": "integer", "minimum": 0, "maximum": MAX_INTEGER}
    parameters = [
        {"name": name, "in": "query", "required": False, "description": text,
         "schema": whole if name in ("offset", "count") else {"type": "string"}}
        for name, text in _PARAMETER_DOCS.items()
    ]  # fmt: skip
    properties = {f.name: _field_schema(f) for f in collection.fields}
    if collection.name == "systems":  # what those who manage systems see (_enrichment)
        properties["tokens"] = {"type": "array", "items": {"type": "object"}}
    record = {"type": "object", "properties": properties,
              "additionalProperties": collection.document is not None}  # fmt: skip
    schema = {
        "type": "object",
        "properties": {
            collection.name: {"type": "array", "items": record},
            "count": {"type": "integer"}, "offset": {"type": "integer"},
            "total": {"type": "integer"}, "totalEstimated": {"type": "boolean"},
            "success": {"type": "boolean"},
        },
    }  # fmt: skip
    return {"parameters": parameters, "schema": schema}


def _field_schema(field: ListField) -> dict[str, Any]:
    """A record field's schema: any JSON for a JSON column; else its type, or null (a column
    may be empty, an ongoing event has no end)."""
    if field.kind == "json":
        return {}
    kinds = {"integer": "integer", "number": "number", "boolean": "boolean"}
    kind = "string" if field.render else kinds.get(field.kind, "string")
    date = {"format": "date-time"} if field.kind == "timestamp" else {}
    return {"type": [kind, "null"], **date}


def _tail(params: ListParams, total: int, estimated: bool) -> dict[str, Any]:
    tail: dict[str, Any] = {"offset": params.offset, "total": total}
    if estimated:
        tail["totalEstimated"] = True
    return tail


async def _as_is(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return records


def _records(
    collection: Collection, rows: list[tuple[Any, ...]], projection: Projection
) -> list[dict[str, Any]]:
    # What a row does not store (PostgreSQL's summaries) is derived only if it is sent.
    derive = any(projection.needs(name) for name in collection.derived_fields)
    return [collection.record(row, derive=derive) for row in rows]


async def _stream(
    collection: Collection,
    projection: Projection,
    enrich: Enrich,
    rows: AsyncIterator[list[tuple[Any, ...]]],
    tail: dict[str, Any],
    *,
    total: Callable[[], int] | None = None,
) -> AsyncIterator[bytes]:
    # The array first, the counts after it: the count is known only at the end, and JSON
    # does not mind the order of keys.
    yield b'{"' + collection.name.encode() + b'":['
    count = 0
    async for batch in rows:
        records = await enrich(_records(collection, batch, projection))
        chunk = b",".join(orjson.dumps(projection.apply(record)) for record in records)
        yield (b"," if count else b"") + chunk
        count += len(batch)
    if total is not None:  # known once every match was read
        tail = {**tail, "total": total()}
    yield b'],"count":' + orjson.dumps(count) + b"," + orjson.dumps({**tail, "success": True})[1:]
