"""List pages the hub finishes: PostgreSQL's packed snapshots (migration 0015).

When a filter or sort names a path inside a packed JSON column (``query_split``), the database
returns the rows the rest of the filter matches, from a server-side cursor in batches, and the
hub unpacks them, keeps those ``query_eval.evaluate`` matches (on the event loop, a slice at a
time) and, for a sort on such a path, orders them (``query_order``). The time limit is the
request's, as for SQL.

``total``: exact when the candidates were read to their end; otherwise (the page is full and
more than ``exact_total`` matches or ``TOTAL_SCAN`` candidates were read) the share of matches
among the candidates read, times the candidates' total, and marked estimated.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from fleetwatch.store import Store
from fleetwatch.store.listing import Collection, page_sql
from fleetwatch.store.query import SQL, evaluate
from fleetwatch.store.query_errors import InvalidQuery
from fleetwatch.store.query_order import record_key
from fleetwatch.store.query_split import HubPlan, read_json_columns

__all__ = ["SORT_MOST", "Scan", "Tally", "hub_page", "hub_sorted_ids", "hub_stream"]

Row = tuple[Any, ...]
Total = Callable[[], Awaitable[tuple[int, bool]]]  # the candidates' total, and if estimated
SCAN_BATCH = 500
EVAL_SLICE = 50  # rows unpacked and tested between two turns of the event loop (~1 ms)
TOTAL_SCAN = 5_000  # candidates read (a full page past) before the total is estimated
ID_BATCH = 500  # rows read back by id, in a hub-sorted stream
SORT_MOST = 100_000  # matches a hub-sorted stream orders (a key and an id each, in memory)
_STOP_MARGIN = 0.25  # seconds: a full page is answered with an estimate rather than a timeout


@dataclass(frozen=True, slots=True)
class Scan:
    """One request's reads: the store, the collection, the SQL part, the time left."""

    store: Store
    collection: Collection
    where: SQL
    order: SQL
    time_left: Callable[[], float]


def _matches(scan: Scan, plan: HubPlan, rows: list[Row]) -> list[tuple[Any, Row]]:
    """The rows the residual filter keeps, each with its sort key (None when SQL sorted)."""
    collection = scan.collection
    order = record_key(plan.sort, "_id") if plan.sort is not None else None
    derive = bool(collection.derived_json & read_json_columns(plan))
    kept: list[tuple[Any, Row]] = []
    for row in rows:
        if plan.residual is None and order is None:
            kept.append((None, row))
            continue
        record = collection.raw_record(row, derive=derive)
        if plan.residual is None or evaluate(plan.residual, record):
            kept.append((order(record) if order is not None else None, row))
    return kept


async def _sliced_matches(scan: Scan, plan: HubPlan, rows: list[Row]) -> list[tuple[Any, Row]]:
    """``_matches`` on the event loop, ``EVAL_SLICE`` rows between two turns of it: in a worker
    thread the work would hold the interpreter's lock as long, and the loop, which drops it at
    every wait for I/O, would wait for it again each time (the roll-ups lagged 41 ms so)."""
    kept: list[tuple[Any, Row]] = []
    for start in range(0, len(rows), EVAL_SLICE):
        kept.extend(_matches(scan, plan, rows[start : start + EVAL_SLICE]))
        await asyncio.sleep(0)
    return kept


@contextlib.asynccontextmanager
async def _candidates(scan: Scan, order: SQL) -> AsyncIterator[AsyncIterator[list[Row]]]:
    sql = page_sql(scan.collection, scan.where, order, "postgres", offset=0, limit=None)
    rows = scan.store.stream(sql.text, sql.params, batch=SCAN_BATCH, time_limit=scan.time_left())
    try:
        yield rows
    finally:
        await rows.aclose()  # type: ignore[attr-defined]


def _by_id(scan: Scan) -> SQL:
    return SQL(scan.collection.id_sql, {})


async def hub_page(
    scan: Scan, plan: HubPlan, *, offset: int, count: int, cap: int, total: Total
) -> tuple[list[Row], int, bool]:
    """The page's rows, the total and whether it is estimated."""
    if plan.sort is not None:
        return await _sorted_page(scan, plan, offset=offset, count=count)
    page: list[Row] = []
    matched = scanned = 0
    async with _candidates(scan, scan.order) as batches:
        async for batch in batches:
            kept = await _sliced_matches(scan, plan, batch)
            scanned += len(batch)
            page.extend(row for _, row in kept[max(offset - matched, 0) :][: count - len(page)])
            matched += len(kept)
            if len(page) < count and matched < offset + count:
                scan.time_left()  # the page is not full: past the limit is a timeout
                continue
            if matched > cap or scanned >= TOTAL_SCAN or scan.time_left() < _STOP_MARGIN:
                candidates, _ = await total()
                estimate = round(matched / scanned * max(candidates, scanned))
                return page, max(estimate, matched, cap + 1 if matched > cap else 0), True
    return page, matched, False


async def _sorted_page(
    scan: Scan, plan: HubPlan, *, offset: int, count: int
) -> tuple[list[Row], int, bool]:
    best: list[tuple[Any, int, Row]] = []
    matched = 0
    async with _candidates(scan, _by_id(scan)) as batches:
        async for batch in batches:
            kept = await _sliced_matches(scan, plan, batch)
            entries = [(key, matched + n, row) for n, (key, row) in enumerate(kept)]
            matched += len(kept)
            best = heapq.nsmallest(offset + count, [*best, *entries], key=lambda e: e[:2])
            scan.time_left()
    return [row for _, _, row in best[offset:]], matched, False


@dataclass(slots=True)
class Tally:
    """The matches a stream found, ``offset`` included: its exact total once it has ended."""

    matched: int = 0


async def hub_stream(
    scan: Scan, plan: HubPlan, *, offset: int, tally: Tally, ids: list[int] | None = None
) -> AsyncIterator[list[Row]]:
    """Every match after ``offset``, in order, a batch at a time; for a sort the hub does, the
    ids ``hub_sorted_ids`` put in order (found before the response starts)."""
    if ids is None:
        async with _candidates(scan, scan.order) as batches:
            async for batch in batches:
                kept = await _sliced_matches(scan, plan, batch)
                rows = [row for _, row in kept[max(offset - tally.matched, 0) :]]
                tally.matched += len(kept)
                if rows:
                    yield rows
        return
    id_at = [f.name for f in scan.collection.fields].index("_id")
    for start in range(0, len(ids), ID_BATCH):
        chunk = ids[start : start + ID_BATCH]
        where = SQL(f"{scan.collection.id_sql} = ANY(%(fw_ids)s)", {"fw_ids": chunk})
        sql = page_sql(scan.collection, where, _by_id(scan), "postgres", offset=0, limit=None)
        rows = await scan.store.select(sql.text, sql.params, time_limit=scan.time_left())
        position = {id_: n for n, id_ in enumerate(chunk)}
        yield sorted(rows, key=lambda row: position[int(row[id_at])])


async def hub_sorted_ids(
    scan: Scan, plan: HubPlan, *, offset: int, tally: Tally, most: int
) -> list[int]:
    """The ids of every match after ``offset``, in the hub's sort order: their keys are held
    in memory, so at most ``most`` matches within the request's time limit, else
    ``InvalidQuery`` (400), answered before the stream starts."""
    found: list[tuple[Any, int]] = []
    id_at = [f.name for f in scan.collection.fields].index("_id")
    async with _candidates(scan, _by_id(scan)) as batches:
        async for batch in batches:
            kept = await _sliced_matches(scan, plan, batch)
            found.extend((key, int(row[id_at])) for key, row in kept)
            if len(found) > most:
                raise InvalidQuery(
                    f"a stream (count=0) sorted by a path inside a stored document orders at "
                    f"most {most:,} matches; filter further, page with count, or sort by a field"
                )
            scan.time_left()
    tally.matched = len(found)
    found.sort(key=lambda entry: entry[0])
    return [id_ for _, id_ in found[offset:]]
