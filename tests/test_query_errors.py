"""Every way a ``query``, ``sort`` or ``fields`` parameter is refused, and what the error says."""

from __future__ import annotations

import time

import orjson
import pytest

from fleetwatch.store.listing import SNAPSHOT_FIELDS
from fleetwatch.store.query import (
    Column,
    FieldMap,
    InvalidFields,
    InvalidQuery,
    InvalidSort,
    QueryParameterError,
    parse_fields,
    parse_query,
    parse_query_value,
    parse_sort,
    where_sql,
)


def _refused(text: str | bytes) -> str:
    with pytest.raises(InvalidQuery) as caught:
        parse_query(text, SNAPSHOT_FIELDS)
    return caught.value.detail


@pytest.mark.parametrize(
    ("error", "error_type", "parameter"),
    [
        (InvalidQuery, "error-invalid-query", "query"),
        (InvalidSort, "error-invalid-sort", "sort"),
        (InvalidFields, "error-invalid-fields", "fields"),
    ],
)
def test_error_classes_carry_the_rocket_chat_shape(
    error: type[QueryParameterError], error_type: str, parameter: str
) -> None:
    exc = error("what is wrong")
    assert isinstance(exc, QueryParameterError)
    assert isinstance(exc, ValueError)
    assert exc.error_type == error_type
    assert exc.status == 400
    assert exc.detail == "what is wrong"
    assert str(exc) == f"Invalid {parameter} parameter provided: what is wrong [{error_type}]"


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("{", "not valid JSON (unexpected end of data: line 1 column 2 (char 1))"),
        ("NaN", "not valid JSON"),
        ("[1]", "a filter must be a JSON object, not an array"),
        ('"x"', "a filter must be a JSON object, not a string"),
        ('{"$where": "sleep(1)"}', "operator $where is not allowed"),
        ('{"$expr": {"$eq": [1, 1]}}', "operator $expr is not allowed"),
        ('{"$function": {}}', "operator $function is not allowed"),
        ('{"a": {"$where": "1"}}', "operator $where is not allowed"),
        ('{"a": {"$function": {}}}', "operator $function is not allowed"),
        ('{"$text": {"$search": "x"}}', "operator $text is not allowed"),
        ('{"a": {"$type": "string"}}', "unknown operator $type for 'a'"),
        ('{"a": {"$foo": 1}}', "unknown operator $foo for 'a'"),
        ('{"$foo": 1}', "unknown operator $foo at the top of a filter"),
        ('{"$not": {"a": 1}}', "operator $not is not valid at the top of a filter"),
        ('{"a": {"$or": [{"b": 1}]}}', "unknown operator $or for 'a'"),
        ('{"__proto__": {"polluted": 1}}', "field name '__proto__' is not allowed"),
        ('{"a.__proto__.b": 1}', "field name '__proto__' is not allowed"),
        ('{"constructor": 1}', "field name 'constructor' is not allowed"),
        ('{"a.$b": 1}', "unknown operator $b in field 'a.$b'"),
        ('{"": 1}', "a field name may not be empty"),
        ('{"a..b": 1}', "field 'a..b' has an empty segment"),
        ('{"a.-1": 1}', "field 'a.-1': write array indexes as 0, 1, 2, ..."),
        ('{"a.01": 1}', "field 'a.01': write array indexes as 0, 1, 2, ..."),
        ('{"a\\"b": 1}', "field 'a\"b' contains a quote, backslash or control character"),
        ('{"a\\\\b": 1}', "field 'a\\\\b' contains a quote, backslash or control character"),
        ('{"a\\u0000": 1}', "field 'a\\x00' contains a quote, backslash or control character"),
        ('{"a.b.c.d.e.f.g.h.i.j.k.l.m.n.o.p.q": 1}', "more than 16 segments"),
        ('{"system.name": 1}', "system has no sub-fields (in 'system.name')"),
        ('{"$and": []}', "$and needs a non-empty array of filters"),
        ('{"$or": {"a": 1}}', "$or needs a non-empty array of filters"),
        ('{"$nor": [1]}', "a filter must be a JSON object, not a number"),
        ('{"a": {"b": 1}}', "comparing whole objects is not supported; name the sub-field"),
        ('{"a": {}}', "comparing whole objects is not supported"),
        ('{"a": [[1]]}', "expected a scalar, not an array"),
        ('{"a": [1, {"b": 2}]}', "expected a scalar, not an object"),
        ('{"a": {"$gt": null}}', "$gt of 'a' must be a number, a string or a date"),
        ('{"a": {"$lt": [1]}}', "$lt of 'a' must be a number, a string or a date"),
        ('{"a": {"$gte": true}}', "$gte of 'a' must be a number, a string or a date"),
        ('{"a": {"$in": 1}}', "$in of 'a' must be an array"),
        ('{"a": {"$nin": [[1]]}}', "$nin of 'a' may hold scalars only, not arrays"),
        ('{"a": {"$exists": 1}}', "$exists of 'a' must be true or false"),
        ('{"a": {"$size": -1}}', "$size of 'a' must be a non-negative integer"),
        ('{"a": {"$size": 1.5}}', "$size of 'a' must be a non-negative integer"),
        ('{"a": {"$regex": 1}}', "$regex of 'a' must be a string"),
        ('{"a": {"$regex": "("}}', "$regex of 'a' is not a valid regular expression"),
        ('{"a": {"$regex": "x", "$options": "g"}}', "$options of 'a' may only be \"i\""),
        ('{"a": {"$options": "i"}}', "$options without $regex for 'a'"),
        ('{"a": {"$regex": "\\\\bword"}}', "$regex of 'a': '\\\\b' is not supported"),
        ('{"a": {"$regex": "(?P<n>x)"}}', "$regex of 'a': '(?P' is not supported"),
        ('{"a": {"$regex": "(?i)x"}}', "$regex of 'a': '(?i)' is not supported"),
        ('{"a": {"$elemMatch": 1}}', "$elemMatch of 'a' must be a non-empty object"),
        ('{"a": {"$elemMatch": {"$gt": 1, "b": 2}}}', "$elemMatch of 'a' mixes operators"),
        ('{"a": {"$not": 1}}', "$not of 'a' must be an object of operators"),
        ('{"a": {"$not": {"b": 1}}}', "$not of 'a' must be an object of operators"),
        ('{"a": {"$date": "2026-01-01"}}', "equality: $date applies to date fields only"),
        ('{"a": "x\\u0000"}', "equality: strings may not contain U+0000"),
        ('{"a": 18446744073709551615}', "out of the 64-bit integer range"),
        ('{"createdAt": 5}', 'equality: a date is an ISO 8601 string or {"$date": ...}'),
        ('{"createdAt": "yesterday"}', "equality: 'yesterday' is not an ISO 8601 date"),
        ('{"createdAt": {"$gt": {"$date": []}}}', "a date is an ISO 8601 string"),
        ('{"createdAt": {"$regex": "2026"}}', "createdAt is a date, not a string"),
        ('{"createdAt": {"$date": "x", "y": 1}}', "a date is an ISO 8601 string"),
    ],
)
def test_refused_queries_say_why(text: str, detail: str) -> None:
    assert detail in _refused(text)


def test_unknown_fields_are_refused_where_the_map_has_no_document() -> None:
    events = FieldMap(columns={"state": Column("e.state", "text")}, id_sql="e.id")
    assert "unknown field 'hostname'" in _refused_with(events, '{"hostname": "x"}')
    where = where_sql(parse_query('{"state": "CRITICAL"}', events), "sqlite")
    assert where.params == {"q0": "CRITICAL"}


def _refused_with(fields: FieldMap, text: str) -> str:
    with pytest.raises(InvalidQuery) as caught:
        parse_query(text, fields)
    return caught.value.detail


def test_deep_nesting_is_refused_cleanly() -> None:
    for depth in (33, 1000, 100_000):
        text = '{"$and": [' * depth + "{}" + "]}" * depth
        if len(text) <= 64 * 1024:
            assert _refused(text) == "nested deeper than 32 levels"
        else:
            assert _refused(text) == "longer than 65536 bytes"
    deep_not = '{"a": ' + '{"$not": ' * 40 + '{"$gt": 1}' + "}" * 41
    assert _refused(deep_not) == "nested deeper than 32 levels"
    # brackets inside strings do not count
    assert parse_query('{"a": "' + "[" * 100 + '"}', SNAPSHOT_FIELDS)


def test_deep_nesting_of_a_decoded_value_is_refused_without_recursion() -> None:
    value: dict[str, object] = {}
    for _ in range(10_000):  # far beyond the recursion limit
        value = {"$and": [value]}
    with pytest.raises(InvalidQuery, match="nested deeper than 32 levels"):
        parse_query_value(value, SNAPSHOT_FIELDS)


def test_size_limits() -> None:
    assert _refused(b'{"a": "' + b"x" * 70_000 + b'"}') == "longer than 65536 bytes"
    in_list = {"a": {"$in": list(range(1001))}}
    assert _refused(orjson.dumps(in_list)) == "$in of 'a' has 1001 values; at most 1000 are allowed"
    assert _refused(orjson.dumps({"a": [1] * 101})) == "equality: arrays of at most 100 values"
    wide = {"$or": [{f"a{n}": 1} for n in range(3100)]}
    assert _refused(orjson.dumps(wide)) == "more than 3000 values"
    assert "longer than 1000" in _refused(orjson.dumps({"a": {"$regex": "x" * 1001}}))


def test_translation_of_a_large_query_is_fast() -> None:
    values = [f"host-{n}" for n in range(1000)]
    text = orjson.dumps(
        {"$or": [{"hostname": {"$in": values}}, {"summary.cpu_percent": {"$gt": 90}}]}
    )
    started = time.perf_counter()
    for dialect in ("sqlite", "postgres"):
        where_sql(parse_query(text, SNAPSHOT_FIELDS), dialect)
    assert time.perf_counter() - started < 0.5


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("[1]", "must be a JSON object of field: 1 or -1"),
        ('{"a": 2}', "'a' must be 1 or -1, not 2"),
        ('{"a": "desc"}', "'a' must be 1 or -1, not 'desc'"),
        ('{"a": true}', "'a' must be 1 or -1, not True"),
        ('{"a": {"b": 1}}', "nested deeper than 1 levels"),
        ('{"__proto__": 1}', "field name '__proto__' is not allowed"),
        ('{"a\'; DROP TABLE x": 1}', None),
        ('{"system.x": 1}', "system has no sub-fields"),
        ("{" + ", ".join(f'"k{n}": 1' for n in range(9)) + "}", "at most 8 keys"),
        ("{", "not valid JSON"),
    ],
)
def test_refused_sorts_say_why(text: str, detail: str | None) -> None:
    if detail is None:  # an odd name is data, bound as a parameter, not refused
        assert parse_sort(text, SNAPSHOT_FIELDS)
        return
    with pytest.raises(InvalidSort) as caught:
        parse_sort(text, SNAPSHOT_FIELDS)
    assert detail in caught.value.detail
    assert caught.value.error_type == "error-invalid-sort"


@pytest.mark.parametrize(
    ("text", "detail"),
    [
        ("[]", "must be a JSON object of field: 0 or 1"),
        ('{"a": 2}', "'a' must be 0 or 1, not 2"),
        ('{"a": "1"}', "'a' must be 0 or 1, not '1'"),
        ('{"a": 1.0}', "'a' must be 0 or 1, not 1.0"),
        ('{"a": 1, "b": 0}', "cannot mix inclusion (1) and exclusion (0), except for _id: 0"),
        ('{"a": 1, "a.b": 1}', "'a.b' collides with another field"),
        ('{"a.b": 0, "a": 0}', "'a' collides with another field"),
        ('{"__proto__": 0}', "field name '__proto__' is not allowed"),
        ('{"a..b": 1}', "empty segment"),
        ('{"a": {"b": 1}}', "nested deeper than 1 levels"),
        ("{" + ", ".join(f'"k{n}": 1' for n in range(101)) + "}", "at most 100 fields"),
    ],
)
def test_refused_projections_say_why(text: str, detail: str) -> None:
    with pytest.raises(InvalidFields) as caught:
        parse_fields(text)
    assert detail in caught.value.detail
    assert str(caught.value).endswith("[error-invalid-fields]")
