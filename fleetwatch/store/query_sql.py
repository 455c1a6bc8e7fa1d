"""Translate a parsed filter and sort into SQL for SQLite JSON1 or PostgreSQL JSONB.

The output is a fragment with named parameters (``:q0`` for sqlite3, ``%(q0)s`` for psycopg) and
their values. No text from the request reaches the SQL: columns come from the ``FieldMap``, paths
are literals only when every key is ``[A-Za-z0-9_-]+`` (else bound parameters), values are always
bound. Every condition is two-valued (never SQL NULL), so ``NOT`` means "does not match".

Semantics, shared with ``query_eval.evaluate``: a path resolves to one value (no implicit walk
through arrays, except that an index segment picks an element); scalar conditions hold when that
value or, if it is an array, one of its elements satisfies them; comparisons hold only between
numbers or between strings (code point order); ``null`` equality also matches a missing field.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Literal

import orjson

from .query_errors import InvalidQuery
from .query_fields import Column, FieldMap, Key
from .query_parse import (
    And,
    Cmp,
    ElemMatch,
    Eq,
    Exists,
    Field,
    FieldOp,
    Filter,
    In,
    Not,
    Or,
    Regex,
    Scalar,
    Size,
    Target,
)
from .query_paths import Segment, is_literal_safe, postgres_path, sqlite_path
from .query_sort import SortKey

__all__ = ["SQL", "Dialect", "order_by_sql", "value_sql", "where_sql"]

Dialect = Literal["sqlite", "postgres"]
MAX_INDEX_SEGMENTS = 3  # SQLite tries both spellings of each index segment: 2**n paths
_SQL_OPS = {"$gt": ">", "$gte": ">=", "$lt": "<", "$lte": "<="}
Scope = tuple[str, str] | None  # inside $elemMatch: (JSON column, element path) / (element, "")
Test = Callable[[str, str], str]  # (type expression, value expression) -> condition


@dataclass(frozen=True, slots=True)
class SQL:
    """A fragment and its named parameters."""

    text: str
    params: dict[str, object]


def where_sql(query: Filter, dialect: Dialect, *, prefix: str = "q") -> SQL:
    """The WHERE condition for ``query``; parameter names start with ``prefix``."""
    compiler = _compiler(dialect, prefix)
    return SQL(compiler.filter(query, None), compiler.params)


def order_by_sql(
    sort: Sequence[SortKey], fields: FieldMap, dialect: Dialect, *, prefix: str = "s"
) -> SQL:
    """ORDER BY terms (without the keywords), ending with the id in the last key's direction.

    JSON values sort by type first (missing/null, numbers, strings, objects, arrays, booleans,
    as MongoDB does), then by value.
    """
    compiler = _compiler(dialect, prefix)
    terms: list[str] = []
    for key in sort:
        direction = " DESC" if key.descending else ""
        terms.extend(term + direction for term in compiler.sort_terms(key.target))
    last = " DESC" if sort and sort[-1].descending else ""
    terms.append(fields.id_sql + last)
    return SQL(", ".join(terms), compiler.params)


def value_sql(target: Target, dialect: Dialect) -> str:
    """The expression a filter on ``target`` compares (for expression indexes and EXPLAIN
    checks); only for columns and literal-safe paths without index segments."""
    if target.column is not None:
        return target.column.sql
    if target.root != "json" or target.json_sql is None or not is_literal_safe(target.path):
        raise ValueError(f"{target.name} has no fixed SQL expression")
    if any(isinstance(s, int) for s in target.path):
        raise ValueError(f"{target.name} has an index segment")
    if dialect == "sqlite":
        return f"json_extract({target.json_sql}, '${sqlite_path(target.path)}')"
    return f"({target.json_sql} #> '{postgres_path(target.path)}')"


def _compiler(dialect: Dialect, prefix: str) -> _Compiler:
    return _SQLite(prefix) if dialect == "sqlite" else _Postgres(prefix)


def _values(op: Eq | In) -> tuple[Scalar | tuple[Scalar, ...], ...]:
    return op.values if isinstance(op, In) else (op.value,)


def _fits(column: Column, value: Scalar) -> bool:
    if column.kind == "text":
        return isinstance(value, str)
    return isinstance(value, int | float) and not isinstance(value, bool)


class _Compiler:
    """What both dialects share: logic, columns and parameters."""

    def __init__(self, prefix: str) -> None:
        self.prefix = prefix
        self.params: dict[str, object] = {}
        self.aliases = 0
        self.negations = 0  # inside NOT, a condition must be FALSE, never NULL
        self.scalar = False  # the target at hand is never an array

    def placeholder(self, name: str) -> str:
        raise NotImplementedError

    def bind(self, value: object) -> str:
        name = f"{self.prefix}{len(self.params)}"
        self.params[name] = value
        return self.placeholder(name)

    def alias(self) -> str:
        self.aliases += 1
        return f"{self.prefix}_e{self.aliases}"

    def filter(self, query: Filter, scope: Scope) -> str:
        if isinstance(query, Field):
            return self.conjunction([self.op(query.target, op, scope) for op in query.ops])
        if isinstance(query, And):
            return self.conjunction([self.filter(item, scope) for item in query.items])
        if isinstance(query, Or):
            return "(" + " OR ".join(self.filter(item, scope) for item in query.items) + ")"
        self.negations += 1
        either = " OR ".join(self.filter(item, scope) for item in query.items)
        self.negations -= 1
        return f"NOT ({either})"

    @staticmethod
    def conjunction(parts: list[str]) -> str:
        if not parts:
            return "TRUE"
        return parts[0] if len(parts) == 1 else "(" + " AND ".join(parts) + ")"

    def op(self, target: Target, op: FieldOp, scope: Scope) -> str:
        if isinstance(op, Not):
            self.negations += 1
            inner = self.conjunction([self.op(target, o, scope) for o in op.ops])
            self.negations -= 1
            return f"NOT {inner}"
        if target.column is not None:
            condition = self.column_op(target.column, op)
        else:
            condition = self.json_op(target, op, scope)
        # Outside NOT, NULL and FALSE filter alike; leaving the bare condition lets an index
        # serve it.
        return f"coalesce({condition}, FALSE)" if self.negations else condition

    def column_op(self, column: Column, op: FieldOp) -> str:
        c = column.sql
        if column.key is not None and isinstance(op, Eq | In) and None not in _values(op):
            return self.key_op(column.key, op)
        if isinstance(op, Eq):
            if op.value is None:
                return f"{c} IS NULL"
            if isinstance(op.value, tuple) or not _fits(column, op.value):
                return "FALSE"
            return f"{c} = {self.bind(op.value)}"
        if isinstance(op, Cmp):
            if not _fits(column, op.value):
                return "FALSE"
            return f"{c} {_SQL_OPS[op.op]} {self.bind(op.value)}"
        if isinstance(op, In):
            parts = [f"{c} IS NULL"] if None in op.values else []
            found = [self.bind(v) for v in op.values if v is not None and _fits(column, v)]
            if found:
                parts.append(f"{c} IN ({', '.join(found)})")
            return "(" + " OR ".join(parts) + ")" if parts else "FALSE"
        if isinstance(op, Exists):
            return f"{c} IS {'NOT ' if op.present else ''}NULL"
        if isinstance(op, Regex) and column.kind == "text":
            return self.regex(c, op)
        return "FALSE"  # $size, $elemMatch: a column is never an array

    def key_op(self, key: Key, op: Eq | In) -> str:
        # The name's row id, looked up first: the planner then sees a constant key and can walk
        # an index on (key, sort field) in order, instead of joining and sorting every match.
        values = [v for v in _values(op) if isinstance(v, str)]
        if not values:
            return "FALSE"
        names = ", ".join(self.bind(v) for v in values)
        lookup = f"SELECT {key.id} FROM {key.table} WHERE {key.name} IN ({names})"  # noqa: S608
        if len(values) == 1:
            return f"{key.column} = ({lookup})"
        return f"{key.column} IN ({lookup})"

    def regex(self, text: str, op: Regex) -> str:
        raise NotImplementedError

    def json_op(self, target: Target, op: FieldOp, scope: Scope) -> str:
        raise NotImplementedError

    def sort_terms(self, target: Target) -> list[str]:
        raise NotImplementedError

    def scalar_test(self, value: Scalar) -> Test:
        raise NotImplementedError

    def in_test(self, values: tuple[Scalar, ...]) -> Test:
        raise NotImplementedError


class _SQLite(_Compiler):
    """JSON1 on a TEXT column: ``json_type`` / ``json_extract`` / ``json_each``.

    An index segment may name an array element or an object key ("0"); SQLite spells the two
    differently, so the path tried is the spelling that exists in the row.
    """

    def placeholder(self, name: str) -> str:
        return f":{name}"

    def path(self, target: Target, scope: Scope) -> tuple[str, str]:
        column, prefix = scope if scope is not None else (target.json_sql, None)
        assert column is not None
        indexes = [i for i, s in enumerate(target.path) if isinstance(s, int)]
        if len(indexes) > MAX_INDEX_SEGMENTS:
            raise InvalidQuery(f"{target.name!r} has more than {MAX_INDEX_SEGMENTS} indexes")
        spellings = [
            self.spelled(target.path, frozenset(chosen), prefix)
            for n in range(len(indexes) + 1)
            for chosen in itertools.combinations(indexes, n)
        ]
        if len(spellings) == 1:
            return column, spellings[0]
        cases = " ".join(f"WHEN json_type({column}, {p}) IS NOT NULL THEN {p}" for p in spellings)
        return column, f"CASE {cases} ELSE {spellings[0]} END"

    def spelled(self, path: tuple[Segment, ...], as_key: frozenset[int], prefix: str | None) -> str:
        suffix = sqlite_path(path, as_key)
        if prefix is None:
            suffix = "$" + suffix
        literal = f"'{suffix}'" if is_literal_safe(path) else self.bind(suffix)
        if prefix is None:
            return literal
        return f"({prefix} || {literal})" if suffix else prefix

    def json_op(self, target: Target, op: FieldOp, scope: Scope) -> str:
        self.scalar = target.scalar
        column, path = self.path(target, scope)
        t = f"json_type({column}, {path})"
        if isinstance(op, Eq):
            if op.value is None:
                return f"({t} IS NULL OR {self.any_of(column, path, self.scalar_test(None))})"
            if isinstance(op.value, tuple):
                return self.array_equal(column, path, op.value)
            return self.any_of(column, path, self.scalar_test(op.value))
        if isinstance(op, Cmp):
            kind = "'text'" if isinstance(op.value, str) else "'integer', 'real'"
            p = self.bind(op.value)
            sign = _SQL_OPS[op.op]
            if self.scalar:
                return self.scalar_range(column, path, op, p)
            return self.any_of(column, path, lambda t, v: f"({t} IN ({kind}) AND {v} {sign} {p})")
        if isinstance(op, In):
            found = self.any_of(column, path, self.in_test(op.values))
            return f"({t} IS NULL OR {found})" if None in op.values else found
        if isinstance(op, Exists):
            return f"{t} IS {'NOT ' if op.present else ''}NULL"
        if isinstance(op, Regex):
            return self.any_of(column, path, lambda t, v: f"({t} = 'text' AND {self.regex(v, op)})")
        if isinstance(op, Size):
            return (
                f"({t} = 'array' AND json_array_length({column}, {path}) = {self.bind(op.length)})"
            )
        assert isinstance(op, ElemMatch)
        a = self.alias()
        sub = self.filter(op.condition, (column, f"{a}.fullkey"))
        each = f"SELECT 1 FROM json_each({column}, {path}) AS {a} WHERE {sub}"  # noqa: S608
        return f"({t} = 'array' AND EXISTS ({each}))"

    def scalar_range(self, column: str, path: str, op: Cmp, p: str) -> str:
        # SQLite orders NULL < numbers < text, so a second bound keeps the type without calling
        # json_type(): both bounds are on json_extract() alone, which an expression index on it
        # serves without reading the row. Scalar names hold numbers, strings or null, never
        # booleans (which json_extract() would give as 1 and 0).
        v = f"json_extract({column}, {path})"
        sign = _SQL_OPS[op.op]
        if isinstance(op.value, str):
            guard = f"{v} >= ''" if op.op in ("$lt", "$lte") else None
        else:
            guard = f"{v} < ''" if op.op in ("$gt", "$gte") else None
        return f"({v} {sign} {p} AND {guard})" if guard else f"{v} {sign} {p}"

    def any_of(self, column: str, path: str, test: Test) -> str:
        t, v = f"json_type({column}, {path})", f"json_extract({column}, {path})"
        if self.scalar:
            return test(t, v)
        a = self.alias()
        inner = test(f"{a}.type", f"{a}.value")
        each = f"SELECT 1 FROM json_each({column}, {path}) AS {a} WHERE {inner}"  # noqa: S608
        return f"({test(t, v)} OR ({t} = 'array' AND EXISTS ({each})))"

    def array_equal(self, column: str, path: str, values: tuple[Scalar, ...]) -> str:
        parts = [f"json_type({column}, {path}) = 'array'"]
        parts.append(f"json_array_length({column}, {path}) = {len(values)}")
        for i, value in enumerate(values):
            item = f"{path} || '[{i}]'"
            test = self.scalar_test(value)
            parts.append(test(f"json_type({column}, {item})", f"json_extract({column}, {item})"))
        return "(" + " AND ".join(parts) + ")"

    def scalar_test(self, value: Scalar) -> Test:
        if value is None:
            return lambda t, v: f"{t} = 'null'"
        if isinstance(value, bool):
            word = "'true'" if value else "'false'"
            return lambda t, v: f"{t} = {word}"
        kind = "'text'" if isinstance(value, str) else "'integer', 'real'"
        p = self.bind(value)
        return lambda t, v: f"({t} IN ({kind}) AND {v} = {p})"

    def in_test(self, values: tuple[Scalar, ...]) -> Test:
        numbers = [
            self.bind(x) for x in values if isinstance(x, int | float) and not isinstance(x, bool)
        ]
        texts = [self.bind(x) for x in values if isinstance(x, str)]
        words = sorted({f"'{str(x).lower()}'" for x in values if isinstance(x, bool)})
        if None in values:
            words.append("'null'")

        def test(t: str, v: str) -> str:
            parts = []
            if numbers:
                parts.append(f"({t} IN ('integer', 'real') AND {v} IN ({', '.join(numbers)}))")
            if texts:
                parts.append(f"({t} = 'text' AND {v} IN ({', '.join(texts)}))")
            if words:
                parts.append(f"{t} IN ({', '.join(words)})")
            return "(" + " OR ".join(parts) + ")" if parts else "FALSE"

        return test

    def regex(self, text: str, op: Regex) -> str:
        return f"{text} REGEXP {self.bind(('(?i)' if op.ignore_case else '') + op.pattern)}"

    def sort_terms(self, target: Target) -> list[str]:
        if target.column is not None:
            return [target.column.sql]
        column, path = self.path(target, None)
        t = f"json_type({column}, {path})"
        rank = (
            f"CASE {t} WHEN 'integer' THEN 1 WHEN 'real' THEN 1 WHEN 'text' THEN 2"
            " WHEN 'object' THEN 3 WHEN 'array' THEN 4 WHEN 'false' THEN 5 WHEN 'true' THEN 5"
            " ELSE 0 END"
        )
        return [rank, f"json_extract({column}, {path})"]


class _Postgres(_Compiler):
    """JSONB: ``#>`` / ``jsonb_typeof`` / ``jsonb_array_elements``; values compared as jsonb, so
    types never mix and no cast can fail; strings compared in the "C" collation."""

    def placeholder(self, name: str) -> str:
        return f"%({name})s"

    def value(self, target: Target, scope: Scope) -> str:
        root = scope[0] if scope is not None else target.json_sql
        assert root is not None
        if not target.path:
            return root
        if is_literal_safe(target.path):
            return f"({root} #> '{postgres_path(target.path)}')"
        return f"({root} #> {self.bind([str(s) for s in target.path])}::text[])"

    def json_op(self, target: Target, op: FieldOp, scope: Scope) -> str:
        self.scalar = target.scalar
        x = self.value(target, scope)
        if isinstance(op, Eq):
            if op.value is None:
                return f"({x} IS NULL OR {self.any_of(x, self.scalar_test(None))})"
            if isinstance(op.value, tuple):
                return f"{x} = {self.json(op.value)}::jsonb"
            return self.any_of(x, self.scalar_test(op.value))
        if isinstance(op, Cmp):
            return self.any_of(x, self.compare_test(op))
        if isinstance(op, In):
            found = self.any_of(x, self.in_test(op.values))
            return f"({x} IS NULL OR {found})" if None in op.values else found
        if isinstance(op, Exists):
            return f"{x} IS {'NOT ' if op.present else ''}NULL"
        if isinstance(op, Regex):
            return self.any_of(x, self.regex_test(op))
        if isinstance(op, Size):
            length = f"CASE WHEN jsonb_typeof({x}) = 'array' THEN jsonb_array_length({x}) END"
            return f"({length}) = {self.bind(op.length)}"
        assert isinstance(op, ElemMatch)
        a = self.alias()
        sub = self.filter(op.condition, (f"{a}.v", ""))
        return f"EXISTS (SELECT 1 FROM {self.elements(x, a)} WHERE {sub})"  # noqa: S608

    @staticmethod
    def elements(x: str, alias: str) -> str:
        array = f"CASE WHEN jsonb_typeof({x}) = 'array' THEN {x} END"
        return f"jsonb_array_elements({array}) AS {alias}(v)"

    def compare_test(self, op: Cmp) -> Test:
        sign = _SQL_OPS[op.op]
        if isinstance(op.value, str):
            p = self.bind(op.value)

            def text_test(_: str, y: str) -> str:
                text = f"({y} #>> '{{}}') COLLATE \"C\""
                return f"(jsonb_typeof({y}) = 'string' AND {text} {sign} {p}::text)"

            return text_test
        q = self.json(op.value)
        if self.scalar and op.op in ("$gt", "$gte"):
            # jsonb orders null < strings < numbers < booleans < arrays < objects: below 'false'
            # and above a number is a number, so an expression index serves both bounds and
            # no row is read to check the type.
            return lambda _, y: f"({y} {sign} {q}::jsonb AND {y} < 'false'::jsonb)"
        return lambda _, y: f"(jsonb_typeof({y}) = 'number' AND {y} {sign} {q}::jsonb)"

    def regex_test(self, op: Regex) -> Test:
        p = self.bind(op.pattern)
        sign = "~*" if op.ignore_case else "~"
        return lambda _, y: f"(jsonb_typeof({y}) = 'string' AND ({y} #>> '{{}}') {sign} {p}::text)"

    def json(self, value: object) -> str:
        return self.bind(orjson.dumps(value).decode())

    def any_of(self, x: str, test: Test) -> str:
        if self.scalar:
            return test("", x)
        a = self.alias()
        each = f"SELECT 1 FROM {self.elements(x, a)} WHERE {test('', f'{a}.v')}"  # noqa: S608
        return f"({test('', x)} OR (jsonb_typeof({x}) = 'array' AND EXISTS ({each})))"

    def scalar_test(self, value: Scalar) -> Test:
        p = self.json(value)
        return lambda t, y: f"{y} = {p}::jsonb"

    def in_test(self, values: tuple[Scalar, ...]) -> Test:
        p = self.bind([orjson.dumps(v).decode() for v in values])
        return lambda t, y: f"{y} = ANY({p}::jsonb[])"

    def regex(self, text: str, op: Regex) -> str:
        return f"{text} {'~*' if op.ignore_case else '~'} {self.bind(op.pattern)}::text"

    def sort_terms(self, target: Target) -> list[str]:
        if target.column is not None:
            return [target.column.sql]
        x = self.value(target, None)
        rank = (
            f"CASE jsonb_typeof({x}) WHEN 'number' THEN 1 WHEN 'string' THEN 2"
            " WHEN 'object' THEN 3 WHEN 'array' THEN 4 WHEN 'boolean' THEN 5 ELSE 0 END"
        )
        text = f"(CASE WHEN jsonb_typeof({x}) = 'string' THEN {x} #>> '{{}}' END) COLLATE \"C\""
        return [rank, text, x]
