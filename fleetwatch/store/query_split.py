"""A filter and sort split between SQL and the hub, for JSON columns the database cannot read.

PostgreSQL keeps snapshots' documents and summaries packed (migration 0015): a condition on a
path inside them cannot be SQL. ``split_query`` keeps in SQL every top-level condition that
names only real columns, readable JSON columns (a system's tags) or a summary figure that has a
column of its own (``summary.cpu_percent`` becomes ``s.cpu_percent``, so its index still
serves it), and leaves the rest to ``query_eval.evaluate`` over the unpacked records: the two
are ANDed, so the rows SQL returns are a superset of the matches and the hub's test narrows
them. A sort is SQL when all its keys are; otherwise the hub sorts (``query_order``).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from .query_fields import Column, FieldMap
from .query_parse import And, Cmp, Eq, Exists, Field, FieldOp, Filter, In, Nor, Not, Or, Target
from .query_sort import SortKey
from .query_sql import SQL, Dialect, order_by_sql, where_sql

__all__ = [
    "HubPlan",
    "Names",
    "Packed",
    "Split",
    "estimate_sql",
    "named_values",
    "read_json_columns",
    "split_query",
    "sql_sort",
    "translate",
]


@dataclass(frozen=True, slots=True)
class Packed:
    """Which JSON columns SQL cannot read (their trusted SQL, as the ``FieldMap`` names them),
    and the figures with a column of their own: name under ``figures_in`` -> column SQL; their
    index is on a coarse key of the column (``coarse_sql``, ``coarse``) where one is named."""

    json_sql: frozenset[str]
    figures_in: str
    figures: Mapping[str, str]
    # The indexed key of each figure (SQL), and the same key computed here from a number.
    coarse_sql: Mapping[str, str] = field(default_factory=dict)
    coarse: Callable[[float], int] | None = None
    # A text column whose values name rows of another column (the hostname: the systems that
    # sent it, migration 0018), SQL of both: equality to some of its values implies the other
    # column is among theirs, and that column's index serves the filter.
    named: tuple[str, str] | None = None


# Hostname -> the ids of the systems that sent it (``Packed.named``), looked up per request.
Names = Mapping[str, tuple[int, ...]]


@dataclass(frozen=True, slots=True)
class Split:
    """``sql``: what the database filters (None: nothing); ``hub``: what the hub evaluates on
    the records the database returns (None: nothing)."""

    sql: Filter | None
    hub: Filter | None


@dataclass(frozen=True, slots=True)
class HubPlan:
    """What the hub adds to the SQL: a filter (None: none) and the sort (None: SQL's)."""

    residual: Filter | None
    sort: tuple[SortKey, ...] | None


def read_json_columns(plan: HubPlan) -> frozenset[str]:
    """The JSON columns (trusted SQL) the hub's filter and sort read."""
    found: set[str] = set()
    if plan.residual is not None:
        _json_columns(plan.residual, found)
    for key in plan.sort or ():
        if key.target.json_sql is not None:
            found.add(key.target.json_sql)
    return frozenset(found)


def _json_columns(query: Filter, found: set[str]) -> None:
    if isinstance(query, Field):
        if query.target.json_sql is not None:
            found.add(query.target.json_sql)
        return
    for item in query.items:
        _json_columns(item, found)


def translate(
    query: Filter,
    sort: tuple[SortKey, ...],
    fields: FieldMap,
    dialect: Dialect,
    packed: Packed | None = None,
    names: Names | None = None,
) -> tuple[SQL, SQL, HubPlan | None]:
    """WHERE and ORDER BY for ``dialect``, and what the hub must do besides (None: nothing)
    where ``packed`` names JSON columns the database cannot read; ``names``: the rows that the
    values of ``named_values(query, packed)`` name. ``InvalidQuery``."""
    plan = None
    if packed is not None:
        split = split_query(query, packed, names=names)
        in_sql = sql_sort(sort, packed)
        if split.hub is not None or in_sql is None:
            plan = HubPlan(split.hub, sort if in_sql is None else None)
        query, sort = split.sql or And(()), in_sql if in_sql is not None else ()
    return where_sql(query, dialect), order_by_sql(sort, fields, dialect), plan


def estimate_sql(query: Filter, packed: Packed, dialect: Dialect) -> SQL:
    """The WHERE condition whose plan estimates the matches' number: the SQL part with each
    figure's condition on its coarse key alone. ANDed with the exact condition on the same
    figure, the planner would multiply two selectivities of one test (a tenth of a tenth for
    ``cpu_percent > 90``), a tenfold underestimate."""
    split = split_query(query, packed, exact=False)
    return where_sql(split.sql or And(()), dialect)


def split_query(
    query: Filter, packed: Packed, *, exact: bool = True, names: Names | None = None
) -> Split:
    items = query.items if isinstance(query, And) else (query,)
    in_sql: list[Filter] = []
    in_hub: list[Filter] = []
    for item in items:
        translated = _in_sql(item, packed, exact=exact, names=names)
        if translated is None:
            in_hub.append(item)
        else:
            in_sql.append(translated)
    return Split(_all(in_sql), _all(in_hub))


def sql_sort(sort: tuple[SortKey, ...], packed: Packed) -> tuple[SortKey, ...] | None:
    """``sort`` as SQL can run it, or None when a key names a packed path."""
    keys: list[SortKey] = []
    for key in sort:
        figure = _figure(key.target, packed)
        if figure is not None:
            # JSON sorts missing/null before numbers: NULL first, as jsonb's type rank did.
            present = Column(f"({figure} IS NOT NULL)", "integer")
            keys.append(
                SortKey(Target(key.target.name, "column", present, None, ()), key.descending)
            )
            keys.append(SortKey(_column_target(key.target, figure), key.descending))
        elif _readable(key.target, packed):
            keys.append(key)
        else:
            return None
    return tuple(keys)


def _all(items: list[Filter]) -> Filter | None:
    if not items:
        return None
    return items[0] if len(items) == 1 else And(tuple(items))


def _figure(target: Target, packed: Packed) -> str | None:
    if target.root != "json" or target.json_sql != packed.figures_in or len(target.path) != 1:
        return None
    return packed.figures.get(str(target.path[0]))


def _readable(target: Target, packed: Packed) -> bool:
    return target.root != "json" or target.json_sql not in packed.json_sql


def _column_target(target: Target, sql: str) -> Target:
    return Target(target.name, "column", Column(sql, "number"), None, ())


def _in_sql(
    query: Filter, packed: Packed, *, exact: bool = True, names: Names | None = None
) -> Filter | None:
    """``query`` in terms SQL can read, or None; ``exact`` False: a figure's coarse condition
    alone, where it has one."""
    if isinstance(query, Field) and names is not None:
        implied = _implied(query, packed, names)
        if implied is not None:
            return And((implied, query))
    if isinstance(query, Field):
        figure = _figure(query.target, packed)
        if figure is not None:
            # A column cannot tell a missing figure from a null one: $exists stays in the hub.
            if any(_has_exists(op) for op in query.ops):
                return None
            condition = Field(_column_target(query.target, figure), query.ops)
            coarse = _coarse(query, packed)
            if coarse is None:
                return condition
            return And((coarse, condition)) if exact else coarse
        return query if _readable(query.target, packed) else None
    parts = [_in_sql(item, packed, exact=exact, names=names) for item in query.items]
    if any(part is None for part in parts):
        return None
    kept = tuple(part for part in parts if part is not None)
    if isinstance(query, And):
        return And(kept)
    return Or(kept) if isinstance(query, Or) else Nor(kept)


def named_values(query: Filter, packed: Packed) -> frozenset[str]:
    """The values of ``packed.named``'s column that ``query`` asks for by equality or ``$in``
    (what ``translate`` needs the ``names`` of)."""
    found: set[str] = set()
    _named_values(query, packed, found)
    return frozenset(found)


def _named_values(query: Filter, packed: Packed, found: set[str]) -> None:
    if isinstance(query, Field):
        values = _equal_values(query, packed)
        found.update(values or ())
        return
    for item in query.items:
        _named_values(item, packed, found)


def _equal_values(query: Field, packed: Packed) -> tuple[str, ...] | None:
    """The strings one of ``query``'s ops says the named column equals (None: no such op)."""
    column = query.target.column
    if packed.named is None or column is None or column.sql != packed.named[0]:
        return None
    for op in query.ops:
        if isinstance(op, Eq) and isinstance(op.value, str):
            return (op.value,)
        if isinstance(op, In) and all(isinstance(value, str) for value in op.values):
            return tuple(str(value) for value in op.values)
    return None


def _implied(query: Field, packed: Packed, names: Names) -> Field | None:
    """``query``'s condition on the column its values name, or None. The values' rows are
    every row that may hold them (``Packed.named``), so ANDed with ``query`` it changes no
    answer."""
    values = _equal_values(query, packed)
    if values is None or packed.named is None:
        return None
    ids = sorted({found for value in values for found in names.get(value, ())})
    column = Column(packed.named[1], "integer")
    return Field(Target(query.target.name, "column", column, None, ()), (In(tuple(ids)),))


_COARSE_OPS = {"$gt": "$gte", "$gte": "$gte", "$lt": "$lte", "$lte": "$lte"}


def _coarse(query: Field, packed: Packed) -> Field | None:
    """The condition on the figure's coarse index key that ``query`` implies, or None.

    The key (``Packed.coarse``) never decreases as the figure grows, so ``v > x`` implies
    ``key(v) >= key(x)``, and ``v = x`` implies ``key(v) = key(x)``: ANDed with the exact
    condition it changes no answer, and lets the key's index find the candidates.
    """
    name = str(query.target.path[0])
    sql = packed.coarse_sql.get(name)
    if sql is None or packed.coarse is None:
        return None
    key = packed.coarse
    ops: list[FieldOp] = []
    for op in query.ops:
        if isinstance(op, Cmp) and _is_number(op.value):
            ops.append(Cmp(_COARSE_OPS[op.op], key(float(op.value))))  # type: ignore[arg-type]
        elif isinstance(op, Eq) and _is_number(op.value):
            ops.append(Eq(key(float(op.value))))  # type: ignore[arg-type]
    if not ops:
        return None
    column = Column(sql, "integer")
    return Field(Target(query.target.name, "column", column, None, ()), tuple(ops))


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _has_exists(op: FieldOp) -> bool:
    if isinstance(op, Exists):
        return True
    return isinstance(op, Not) and any(_has_exists(inner) for inner in op.ops)
