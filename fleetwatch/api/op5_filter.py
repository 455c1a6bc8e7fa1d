"""OP5 (Livestatus-style) filters: ``[services] state != 0 and host.name = "web1"``.

Grammar: ``[table] expression`` where table is ``hosts`` or ``services`` and expression is
``all``, or comparisons ``column op value`` joined with ``and``, ``or``, ``not`` and
parentheses. Operators: ``=`` ``!=`` ``<`` ``<=`` ``>`` ``>=``, ``~`` (regular expression),
``~~`` (case-insensitive regular expression), ``!~``/``!~~`` (their negations) and ``=~``
(case-insensitive equality). Values are double-quoted strings or numbers. A part that cannot
be understood raises ``FilterError`` naming it.

A filter's cost is bounded before anything runs: at most ``MAX_FILTER_CHARS`` characters,
``MAX_COMPARISONS`` comparisons and ``MAX_NESTING`` levels of parentheses and ``not``, and its
regular expressions are RE2's (``store/regex.py``), linear in the text they search.

Besides its Python predicate, a filter carries ``where``, a store ``Condition`` for what SQL can
decide (comparisons of the columns in ``pushable``), and ``exact``, whether ``where`` says it
all. Where it does not, ``where`` still narrows the rows: an ``and`` keeps the parts SQL can
decide, an ``or`` needs a condition on every side, a ``not`` an exact inner part; the predicate
then decides the rest.
"""

from __future__ import annotations

import operator
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from fleetwatch.store.checks import AllOf, AnyOf, Compare, Condition, Not
from fleetwatch.store.regex import Pattern, PatternError, compile_pattern

__all__ = [
    "MAX_COMPARISONS",
    "MAX_FILTER_CHARS",
    "MAX_NESTING",
    "Filter",
    "FilterError",
    "Predicate",
    "parse_filter",
]

MAX_FILTER_CHARS = 4096
MAX_COMPARISONS = 100  # SQLite refuses expressions deeper than 1,000; people write a handful
MAX_NESTING = 16  # parentheses and "not"s inside each other

Row = Mapping[str, Any]
Predicate = Callable[[Row], bool]
# A filter column SQL can compare: (the store's column, whether it holds numbers).
Pushable = Mapping[str, tuple[str, bool]]


class FilterError(ValueError):
    """A filter that was not understood; the message names the part."""


@dataclass(frozen=True, slots=True)
class Filter:
    table: str
    predicate: Predicate
    where: Condition | None = None  # None: no narrowing (every row of the table)
    exact: bool = True  # where (or its absence) decides alone; the predicate adds nothing


@dataclass(frozen=True, slots=True)
class _Part:
    predicate: Predicate
    where: Condition | None
    exact: bool


_TOKEN = re.compile(
    r"""\s*(?:
        (?P<string>"(?:[^"\\]|\\.)*")
      | (?P<op>!~~|!~|~~|=~|!=|<=|>=|=|~|<|>)
      | (?P<paren>[()])
      | (?P<word>[A-Za-z0-9_.:+\-]+)
    )""",
    re.VERBOSE,
)
_TABLE = re.compile(r"^\s*\[\s*(?P<table>\w+)\s*\]\s*(?P<rest>.*)$", re.DOTALL)
TABLES = ("hosts", "services")


def parse_filter(
    text: str,
    columns: Mapping[str, frozenset[str]],
    pushable: Mapping[str, Pushable] | None = None,
) -> Filter:
    """Parse a filter; ``columns`` names each table's known columns, ``pushable`` (by table)
    those SQL can compare."""
    if len(text) > MAX_FILTER_CHARS:
        raise FilterError(f"a filter is at most {MAX_FILTER_CHARS} characters, not {len(text)}")
    match = _TABLE.match(text)
    if match is None:
        raise FilterError("a filter starts with its table in brackets, e.g. [services]")
    table = match["table"]
    if table not in columns:
        raise FilterError(f"unknown table [{table}]; supported: {', '.join(sorted(columns))}")
    tokens = _tokens(match["rest"])
    if [value for _, value in tokens] == ["all"]:
        return Filter(table, lambda _: True)
    if not tokens:
        raise FilterError("an empty filter: write 'all' for every object")
    parser = _Parser(tokens, columns[table], table, (pushable or {}).get(table, {}))
    part = parser.expression()
    if parser.position < len(tokens):
        raise FilterError(f"unexpected {tokens[parser.position][1]!r}")
    return Filter(table, part.predicate, part.where, part.exact and part.where is not None)


def _tokens(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    position = 0
    while position < len(text):
        if not text[position:].strip():
            break
        match = _TOKEN.match(text, position)
        if match is None or match.end() == position:
            raise FilterError(f"not understood: {text[position:].strip()!r}")
        kind = match.lastgroup
        assert kind is not None
        tokens.append((kind, match[kind]))
        position = match.end()
    return tokens


def _regex(pattern: str, *, ignore_case: bool) -> Pattern:
    try:
        return compile_pattern(pattern, ignore_case=ignore_case)
    except PatternError as exc:
        raise FilterError(f"the regular expression {pattern[:40]!r} {exc}") from None


_ORDERING: dict[str, Callable[[Any, Any], bool]] = {
    "<": operator.lt,
    "<=": operator.le,
    ">": operator.gt,
    ">=": operator.ge,
}


class _Parser:
    def __init__(
        self, tokens: list[tuple[str, str]], known: frozenset[str], table: str, pushable: Pushable
    ) -> None:
        self.tokens = tokens
        self.known = known
        self.table = table
        self.pushable = pushable
        self.position = 0
        self.comparisons = 0
        self.nesting = 0

    def _peek(self) -> tuple[str, str] | None:
        return self.tokens[self.position] if self.position < len(self.tokens) else None

    def _next(self, what: str) -> tuple[str, str]:
        token = self._peek()
        if token is None:
            raise FilterError(f"the filter ends where {what} was expected")
        self.position += 1
        return token

    def _keyword(self, word: str) -> bool:
        token = self._peek()
        if token is not None and token[0] == "word" and token[1].lower() == word:
            self.position += 1
            return True
        return False

    def expression(self) -> _Part:
        terms = [self._conjunction()]
        while self._keyword("or"):
            terms.append(self._conjunction())
        if len(terms) == 1:
            return terms[0]
        predicates = [t.predicate for t in terms]
        wheres = [t.where for t in terms if t.where is not None]
        where = AnyOf(tuple(wheres)) if len(wheres) == len(terms) else None
        exact = where is not None and all(t.exact for t in terms)
        return _Part(lambda row: any(p(row) for p in predicates), where, exact)

    def _conjunction(self) -> _Part:
        terms = [self._unary()]
        while self._keyword("and"):
            terms.append(self._unary())
        if len(terms) == 1:
            return terms[0]
        predicates = [t.predicate for t in terms]
        wheres = [t.where for t in terms if t.where is not None]
        where = None if not wheres else wheres[0] if len(wheres) == 1 else AllOf(tuple(wheres))
        exact = all(t.exact for t in terms)
        return _Part(lambda row: all(p(row) for p in predicates), where, exact)

    def _unary(self) -> _Part:
        if self._keyword("not"):
            self._enter()
            inner = self._unary()
            self.nesting -= 1
            where = Not(inner.where) if inner.exact and inner.where is not None else None
            return _Part(lambda row: not inner.predicate(row), where, where is not None)
        token = self._peek()
        if token == ("paren", "("):
            self.position += 1
            self._enter()
            inner = self.expression()
            self.nesting -= 1
            if self._next("')'") != ("paren", ")"):
                raise FilterError("a '(' without its ')'")
            return inner
        return self._comparison()

    def _enter(self) -> None:
        # Bounded here, before the recursion could reach Python's own limit.
        self.nesting += 1
        if self.nesting > MAX_NESTING:
            raise FilterError(f"parentheses and 'not' nest at most {MAX_NESTING} deep")

    def _comparison(self) -> _Part:
        self.comparisons += 1
        if self.comparisons > MAX_COMPARISONS:
            raise FilterError(f"a filter holds at most {MAX_COMPARISONS} comparisons")
        kind, column = self._next("a column")
        if kind != "word":
            raise FilterError(f"expected a column, not {column!r}")
        if column not in self.known:
            known = ", ".join(sorted(self.known))
            raise FilterError(f"unknown column {column!r} of [{self.table}]; known: {known}")
        kind, op = self._next(f"an operator after {column!r}")
        if kind != "op":
            raise FilterError(f"expected an operator after {column!r}, not {op!r}")
        kind, raw = self._next(f"a value after {column} {op}")
        if kind == "string":
            value: Any = re.sub(r"\\(.)", r"\1", raw[1:-1])
        elif kind == "word":
            try:
                value = float(raw)
            except ValueError:
                raise FilterError(
                    f'a value is a number or a "quoted string", not {raw!r}'
                ) from None
        else:
            raise FilterError(f"expected a value after {column} {op}, not {raw!r}")
        where = self._where(column, op, value)
        return _Part(_compare(column, op, value), where, where is not None)

    def _where(self, column: str, op: str, value: Any) -> Compare | None:
        """The comparison for SQL, where it gives what the predicate gives on every row."""
        if column not in self.pushable:
            return None
        stored, numbers = self.pushable[column]
        if numbers and isinstance(value, float) and op in _ORDERING.keys() | {"=", "!="}:
            return Compare(stored, op, value)
        if not numbers and isinstance(value, str) and op in ("=", "!="):
            return Compare(stored, op, value)
        return None  # text order (collations), regular expressions, mixed types: Python


def _compare(column: str, op: str, value: Any) -> Predicate:
    if op in ("~", "~~", "!~", "!~~"):
        pattern = _regex(str(value), ignore_case=op.endswith("~~"))
        negate = op.startswith("!")
        return lambda row: (pattern.search(str(row[column])) is None) == negate
    if op == "=~":
        folded = str(value).casefold()
        return lambda row: str(row[column]).casefold() == folded

    def coerce(have: Any) -> Any:
        if isinstance(value, float):
            try:
                return float(have)
            except (TypeError, ValueError):
                return None
        return "" if have is None else str(have)

    if op == "=":
        return lambda row: coerce(row[column]) == value
    if op == "!=":
        return lambda row: coerce(row[column]) != value
    order = _ORDERING[op]
    return lambda row: (have := coerce(row[column])) is not None and order(have, value)
