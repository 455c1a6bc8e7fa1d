"""The reference evaluator: a parsed filter applied to one record in Python.

It states the semantics the SQL translation (``query_sql.py``) must have; the property tests
check both backends against it. A record is what the API returns: top-level names as in the
``FieldMap`` (timestamp columns as epoch seconds or ISO 8601 strings), JSON values nested below.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from .query_errors import InvalidQuery
from .query_fields import Column
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
    date_value,
)
from .query_paths import Segment, parse_path
from .regex import compile_pattern

__all__ = ["evaluate", "missing", "resolve"]

_MISSING = object()
missing = _MISSING  # what ``resolve`` gives for a path that is not there


def evaluate(query: Filter, record: Mapping[str, Any]) -> bool:
    """Whether ``record`` matches ``query``."""
    return _match(query, record)


def _match(query: Filter, root: Any) -> bool:
    if isinstance(query, Field):
        return all(_op(query.target, op, root) for op in query.ops)
    if isinstance(query, And):
        return all(_match(item, root) for item in query.items)
    found = any(_match(item, root) for item in query.items)
    return found if isinstance(query, Or) else not found


def _op(target: Target, op: FieldOp, root: Any) -> bool:
    if isinstance(op, Not):
        return not all(_op(target, o, root) for o in op.ops)
    if target.column is not None:
        return _column_op(target.column, root.get(target.name), op)
    if target.root == "element":
        value = _resolve(root, target.path)
    else:
        value = _resolve(root, parse_path(target.name, InvalidQuery))
    return _json_op(value, op, scalar=target.scalar)


def resolve(value: Any, path: tuple[Segment, ...]) -> Any:
    """The value at ``path`` (an index segment picks an array element), or ``missing``."""
    return _resolve(value, path)


def _resolve(value: Any, path: tuple[Segment, ...]) -> Any:
    for segment in path:
        if isinstance(segment, int) and isinstance(value, list):
            value = value[segment] if segment < len(value) else _MISSING
        elif isinstance(value, dict):
            value = value.get(str(segment), _MISSING)
        else:
            return _MISSING
    return value


def _same(item: Any, value: Scalar) -> bool:
    if value is None or isinstance(value, bool):
        return item is value
    if isinstance(value, str):
        return isinstance(item, str) and item == value
    return _is_number(item) and bool(item == value)


def _is_number(item: Any) -> bool:
    return isinstance(item, int | float) and not isinstance(item, bool)


def _compare(item: Any, op: Cmp) -> bool:
    if isinstance(op.value, str) != isinstance(item, str) or not (
        isinstance(item, str) or _is_number(item)
    ):
        return False
    if op.op == "$gt":
        return bool(item > op.value)
    if op.op == "$gte":
        return bool(item >= op.value)
    if op.op == "$lt":
        return bool(item < op.value)
    return bool(item <= op.value)


def _candidates(value: Any, *, scalar: bool) -> list[Any]:
    if value is _MISSING:
        return []
    return [value, *value] if isinstance(value, list) and not scalar else [value]


def _json_op(value: Any, op: FieldOp, *, scalar: bool = False) -> bool:
    items = _candidates(value, scalar=scalar)
    if isinstance(op, Eq):
        if isinstance(op.value, tuple):
            expected = op.value
            return (
                isinstance(value, list)
                and len(value) == len(expected)
                and all(_same(a, b) for a, b in zip(value, expected, strict=True))
            )
        if op.value is None and value is _MISSING:
            return True
        return any(_same(item, op.value) for item in items)
    if isinstance(op, Cmp):
        return any(_compare(item, op) for item in items)
    if isinstance(op, In):
        if None in op.values and value is _MISSING:
            return True
        return any(_same(item, v) for item in items for v in op.values)
    if isinstance(op, Exists):
        return (value is not _MISSING) == op.present
    if isinstance(op, Regex):
        pattern = compile_pattern(op.pattern, ignore_case=op.ignore_case)
        return any(isinstance(item, str) and pattern.search(item) for item in items)
    if isinstance(op, Size):
        return isinstance(value, list) and len(value) == op.length
    assert isinstance(op, ElemMatch)
    return isinstance(value, list) and any(_match(op.condition, item) for item in value)


def _column_op(column: Column, value: Any, op: FieldOp) -> bool:
    if column.kind == "timestamp" and value is not None and not _is_number(value):
        value = date_value(value, column.sql)
    if isinstance(op, Exists):
        return (value is not None) == op.present
    if value is None:
        return (isinstance(op, Eq) and op.value is None) or (
            isinstance(op, In) and None in op.values
        )
    if isinstance(op, Regex):
        pattern = compile_pattern(op.pattern, ignore_case=op.ignore_case)
        return isinstance(value, str) and pattern.search(value) is not None
    if isinstance(op, Eq | Cmp | In):
        return _json_op(value, op, scalar=True)
    return False  # $size, $elemMatch: a column is never an array
