"""Parse and validate the ``query`` parameter of the list endpoints into a typed filter.

The text is JSON (a Mongo-style filter). Everything is checked here, against the collection's
``FieldMap``, so the SQL translator and the reference evaluator only ever see a well-formed,
bounded tree whose paths are plain segments. Errors (``query_errors.py``) say what is wrong and
where.

Grammar::

    filter    := { (field: condition | "$and"|"$or"|"$nor": [filter, ...]) ... }
    condition := value                       implicit $eq
               | { operator: operand ... }   every key an operator
    operator  := $eq $ne $gt $gte $lt $lte $in $nin $exists $regex(+$options) $size $elemMatch $not
    value     := null | true | false | number | string | [scalar, ...] | {"$date": iso | millis}
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from .query_errors import InvalidQuery
from .query_fields import Column, FieldMap
from .query_paths import Segment, parse_path
from .query_text import load_json
from .regex import PatternError, compile_pattern

__all__ = [
    "And",
    "Cmp",
    "ElemMatch",
    "Eq",
    "Exists",
    "Field",
    "FieldOp",
    "Filter",
    "In",
    "Nor",
    "Not",
    "Or",
    "Regex",
    "Scalar",
    "Size",
    "Target",
    "parse_query",
    "parse_query_value",
    "resolve_target",
]

MAX_DEPTH = 32
MAX_IN = 1000
MAX_ARRAY_OPERAND = 100
MAX_NODES = 2000
# Conditions (operators on a field, inside $elemMatch too): each is a subquery or a scan of an
# array per row, and planning time grows with their number.
MAX_CONDITIONS = 500
_INT64 = 2**63 - 1

Scalar = None | bool | int | float | str

_COMPARISONS = ("$gt", "$gte", "$lt", "$lte")
_FIELD_OPERATORS = frozenset(
    {
        "$eq",
        "$ne",
        *_COMPARISONS,
        "$in",
        "$nin",
        "$exists",
        "$regex",
        "$options",
        "$size",
        "$elemMatch",
        "$not",
    }
)
_LOGICAL = frozenset({"$and", "$or", "$nor"})
_REFUSED = frozenset({"$where", "$function", "$expr", "$accumulator", "$jsonSchema", "$text"})
# Python ``re`` constructs PostgreSQL's regular expressions read differently (\b is a backspace
# there, named groups and comments do not exist): refused so both backends agree.
_NON_PORTABLE_REGEX = re.compile(r"\\[bBZ]|\(\?P|\(\?<[A-Za-z]|\(\?#|\(\?[aiLmsux-]+[:)]")


@dataclass(frozen=True, slots=True)
class Target:
    """Where a condition looks: a real column, a path in a JSON column, or (``root`` "element")
    a path inside the array element an enclosing ``$elemMatch`` is testing."""

    name: str
    root: Literal["column", "json", "element"]
    column: Column | None
    json_sql: str | None
    path: tuple[Segment, ...]
    scalar: bool = False  # never an array: no element-wise search (``FieldMap.scalar_names``)


@dataclass(frozen=True, slots=True)
class Eq:
    """Equality: a scalar (null also matches a missing field) or a whole array of scalars."""

    value: Scalar | tuple[Scalar, ...]


@dataclass(frozen=True, slots=True)
class Cmp:
    op: Literal["$gt", "$gte", "$lt", "$lte"]
    value: int | float | str


@dataclass(frozen=True, slots=True)
class In:
    values: tuple[Scalar, ...]


@dataclass(frozen=True, slots=True)
class Exists:
    present: bool


@dataclass(frozen=True, slots=True)
class Regex:
    pattern: str
    ignore_case: bool


@dataclass(frozen=True, slots=True)
class Size:
    length: int


@dataclass(frozen=True, slots=True)
class ElemMatch:
    """Some element of the array matches ``condition``, whose targets are element-relative."""

    condition: Filter


@dataclass(frozen=True, slots=True)
class Not:
    """None of... rather: not all of ``ops`` hold ($ne, $nin and $not; also true when missing)."""

    ops: tuple[FieldOp, ...]


FieldOp = Eq | Cmp | In | Exists | Regex | Size | ElemMatch | Not


@dataclass(frozen=True, slots=True)
class Field:
    """Every op in ``ops`` holds for ``target``."""

    target: Target
    ops: tuple[FieldOp, ...]


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Filter, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Filter, ...]


@dataclass(frozen=True, slots=True)
class Nor:
    items: tuple[Filter, ...]


Filter = And | Or | Nor | Field


def parse_query(text: str | bytes | None, fields: FieldMap) -> Filter:
    """Parse the ``query`` parameter; None or blank matches everything. ``InvalidQuery``."""
    if text is None or not text.strip():
        return And(())
    return parse_query_value(load_json(text, InvalidQuery, max_depth=MAX_DEPTH), fields)


def parse_query_value(value: Any, fields: FieldMap) -> Filter:
    """Validate an already decoded query (depth and size are checked again)."""
    _check_shape(value)
    return _Parser(fields).filter(value, element=False)


def _check_shape(value: Any) -> None:
    # Iterative, so even a very deep structure cannot raise RecursionError.
    stack: list[tuple[Any, int]] = [(value, 1)]
    nodes = 0
    while stack:
        item, depth = stack.pop()
        nodes += 1
        if depth > MAX_DEPTH:
            raise InvalidQuery(f"nested deeper than {MAX_DEPTH} levels")
        if nodes > MAX_NODES + MAX_IN:
            raise InvalidQuery(f"more than {MAX_NODES + MAX_IN} values")
        if isinstance(item, dict):
            stack.extend((v, depth + 1) for v in item.values())
        elif isinstance(item, list):
            stack.extend((v, depth + 1) for v in item)


class _Parser:
    def __init__(self, fields: FieldMap) -> None:
        self.fields = fields
        self.conditions = 0

    def counted(self, ops: tuple[FieldOp, ...]) -> tuple[FieldOp, ...]:
        self.conditions += len(ops)
        if self.conditions > MAX_CONDITIONS:
            raise InvalidQuery(f"more than {MAX_CONDITIONS} conditions; at most "
                               f"{MAX_CONDITIONS} are allowed")  # fmt: skip
        return ops

    def filter(self, value: Any, *, element: bool) -> Filter:
        if not isinstance(value, dict):
            raise InvalidQuery(f"a filter must be a JSON object, not {_kind(value)}")
        items: list[Filter] = []
        for key, operand in value.items():
            if key in _LOGICAL:
                items.append(self.logical(key, operand, element=element))
            elif key.startswith("$"):
                raise InvalidQuery(_operator_message(key, "at the top of a filter"))
            else:
                target = self.target(key, element=element)
                items.append(Field(target, self.counted(self.condition(target, operand))))
        return items[0] if len(items) == 1 else And(tuple(items))

    def logical(self, key: str, operand: Any, *, element: bool) -> Filter:
        if not isinstance(operand, list) or not operand:
            raise InvalidQuery(f"{key} needs a non-empty array of filters")
        parts = tuple(self.filter(item, element=element) for item in operand)
        return And(parts) if key == "$and" else Or(parts) if key == "$or" else Nor(parts)

    def target(self, name: str, *, element: bool) -> Target:
        if element:
            return Target(name, "element", None, None, parse_path(name, InvalidQuery))
        return resolve_target(name, self.fields)

    def condition(self, target: Target, operand: Any) -> tuple[FieldOp, ...]:
        if isinstance(operand, dict) and any(key.startswith("$") for key in operand):
            if "$date" in operand:
                return (Eq(self.value(target, operand, "equality")),)
            return self.operators(target, operand)
        return (Eq(self.value(target, operand, "equality")),)

    def operators(self, target: Target, operand: dict[str, Any]) -> tuple[FieldOp, ...]:
        for key in operand:
            if key not in _FIELD_OPERATORS:
                raise InvalidQuery(_operator_message(key, f"for {target.name!r}"))
        if "$options" in operand and "$regex" not in operand:
            raise InvalidQuery(f"$options without $regex for {target.name!r}")
        ops: list[FieldOp] = []
        for key, value in operand.items():
            if key != "$options":
                ops.append(self.operator(target, key, value, operand.get("$options")))
        return tuple(ops)

    def operator(self, target: Target, key: str, value: Any, options: Any) -> FieldOp:
        where = f"{key} of {target.name!r}"
        if key == "$eq":
            return Eq(self.value(target, value, where))
        if key == "$ne":
            return Not((Eq(self.value(target, value, where)),))
        if key in _COMPARISONS:
            return self.comparison(target, key, value, where)
        if key in ("$in", "$nin"):
            found = In(self.in_values(target, value, where))
            return found if key == "$in" else Not((found,))
        if key == "$exists":
            if not isinstance(value, bool):
                raise InvalidQuery(f"{where} must be true or false")
            return Exists(value)
        if key == "$regex":
            return self.regex(target, value, options)
        if key == "$size":
            if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value <= _INT64:
                raise InvalidQuery(f"{where} must be a non-negative integer")
            return Size(value)
        if key == "$elemMatch":
            return self.elem_match(target, value, where)
        return self.negation(target, value, where)

    def comparison(self, target: Target, key: str, value: Any, where: str) -> Cmp:
        scalar = self.value(target, value, where)
        if isinstance(scalar, bool) or not isinstance(scalar, int | float | str):
            raise InvalidQuery(f"{where} must be a number, a string or a date")
        op: Literal["$gt", "$gte", "$lt", "$lte"] = key  # type: ignore[assignment]
        return Cmp(op, scalar)

    def in_values(self, target: Target, value: Any, where: str) -> tuple[Scalar, ...]:
        if not isinstance(value, list):
            raise InvalidQuery(f"{where} must be an array")
        if len(value) > MAX_IN:
            raise InvalidQuery(f"{where} has {len(value)} values; at most {MAX_IN} are allowed")
        values: list[Scalar] = []
        for item in value:
            scalar = self.value(target, item, where)
            if isinstance(scalar, tuple):
                raise InvalidQuery(f"{where} may hold scalars only, not arrays")
            values.append(scalar)
        return tuple(values)

    def regex(self, target: Target, value: Any, options: Any) -> Regex:
        where = f"$regex of {target.name!r}"
        if not isinstance(value, str):
            raise InvalidQuery(f"{where} must be a string")
        if options is not None and (not isinstance(options, str) or options not in ("", "i")):
            raise InvalidQuery(f'$options of {target.name!r} may only be "i" (or "")')
        if target.column is not None and target.column.kind == "timestamp":
            raise InvalidQuery(f"{where}: {target.name} is a date, not a string")
        return Regex(check_regex(value, where), options == "i")

    def elem_match(self, target: Target, value: Any, where: str) -> ElemMatch:
        if not isinstance(value, dict) or not value:
            raise InvalidQuery(f"{where} must be a non-empty object")
        operators = [key in _FIELD_OPERATORS for key in value]
        if all(operators):
            here = Target(f"{target.name} element", "element", None, None, ())
            return ElemMatch(Field(here, self.counted(self.operators(here, value))))
        if any(operators):
            raise InvalidQuery(f"{where} mixes operators and field names")
        return ElemMatch(self.filter(value, element=True))

    def negation(self, target: Target, value: Any, where: str) -> Not:
        if not isinstance(value, dict) or not value:
            raise InvalidQuery(f"{where} must be an object of operators")
        if not all(key.startswith("$") for key in value) or "$date" in value:
            raise InvalidQuery(f"{where} must be an object of operators")
        return Not(self.operators(target, value))

    def value(self, target: Target, value: Any, where: str) -> Scalar | tuple[Scalar, ...]:
        if target.column is not None and target.column.kind == "timestamp":
            return date_value(value, where)
        if (
            target.column is not None
            and target.column.kind == "boolean"
            and isinstance(value, bool)
        ):
            return int(value)
        if (
            target.column is not None
            and target.column.kind == "integer"
            and isinstance(value, str)
            and value.isascii()
            and value.isdigit()
            and len(value) < 19
        ):
            return int(value)
        if isinstance(value, list):
            if len(value) > MAX_ARRAY_OPERAND:
                raise InvalidQuery(f"{where}: arrays of at most {MAX_ARRAY_OPERAND} values")
            return tuple(scalar(item, where) for item in value)
        if isinstance(value, dict):
            if "$date" in value:
                raise InvalidQuery(f"{where}: $date applies to date fields only")
            raise InvalidQuery(
                f"{where}: comparing whole objects is not supported; name the sub-field "
                f"({target.name}.<name>)"
            )
        return scalar(value, where)


def resolve_target(name: str, fields: FieldMap) -> Target:
    """Where ``name`` (a dotted path) lives according to ``fields``; ``InvalidQuery``."""
    path = parse_path(name, InvalidQuery)
    top = str(path[0])
    column = fields.columns.get(top)
    if column is not None:
        if len(path) > 1:
            raise InvalidQuery(f"{top} has no sub-fields (in {name!r})")
        return Target(name, "column", column, None, ())
    json_sql = fields.json_columns.get(top)
    if json_sql is not None:
        return Target(name, "json", None, json_sql, path[1:], top in fields.scalar_names)
    if fields.document is None:
        raise InvalidQuery(f"unknown field {name!r}")
    return Target(name, "json", None, fields.document, path, top in fields.scalar_names)


def scalar(value: Any, where: str) -> Scalar:
    """A JSON scalar fit for both backends (no U+0000, integers within 64 bits)."""
    if value is None or isinstance(value, bool | float):
        return value
    if isinstance(value, int):
        if abs(value) > _INT64:
            raise InvalidQuery(f"{where}: {value} is out of the 64-bit integer range")
        return value
    if isinstance(value, str):
        if "\x00" in value:
            raise InvalidQuery(f"{where}: strings may not contain U+0000")
        return value
    raise InvalidQuery(f"{where}: expected a scalar, not {_kind(value)}")


def date_value(value: Any, where: str) -> float:
    """Epoch seconds from an ISO 8601 string, ``{"$date": iso | epoch millis}``; naive is UTC."""
    if isinstance(value, dict):
        if set(value) != {"$date"}:
            raise InvalidQuery(f'{where}: a date is an ISO 8601 string or {{"$date": ...}}')
        inner = value["$date"]
        if isinstance(inner, int | float) and not isinstance(inner, bool):
            return float(inner) / 1000.0
        value = inner
    if not isinstance(value, str):
        raise InvalidQuery(f'{where}: a date is an ISO 8601 string or {{"$date": ...}}')
    try:
        moment = datetime.fromisoformat(value)
    except ValueError:
        raise InvalidQuery(f"{where}: {value[:40]!r} is not an ISO 8601 date") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.timestamp()


def check_regex(pattern: str, where: str) -> str:
    """A pattern RE2 (``regex.py``) and PostgreSQL read alike, or ``InvalidQuery``."""
    try:
        compile_pattern(pattern)
    except PatternError as exc:
        raise InvalidQuery(f"{where} {exc}") from None
    found = _NON_PORTABLE_REGEX.search(pattern)
    if found:
        raise InvalidQuery(f"{where}: {found.group()!r} is not supported")
    return pattern


def _operator_message(key: str, where: str) -> str:
    if key in _REFUSED:
        return f"operator {key} is not allowed"
    if key in _FIELD_OPERATORS:
        return f"operator {key} is not valid {where}"
    return f"unknown operator {key} {where}"


def _kind(value: Any) -> str:
    if isinstance(value, dict):
        return "an object"
    if isinstance(value, list):
        return "an array"
    if isinstance(value, str):
        return "a string"
    if value is None:
        return "null"
    return "a boolean" if isinstance(value, bool) else "a number"
