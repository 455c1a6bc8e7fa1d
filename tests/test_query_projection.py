"""The ``fields`` projection applied to records, and which columns a projection lets the store
skip."""

from __future__ import annotations

from typing import Any

import pytest

from fleetwatch.store.query import parse_fields

RECORD: dict[str, Any] = {
    "_id": 7,
    "system": "host-1",
    "hostname": "web-1",
    "os": {"name": "Linux", "version": "6.1"},
    "cpu": [{"user": 50, "system": 10}, {"user": 5, "system": 1}, 3],
    "summary": {"cpu_percent": 60, "mem_percent": 40},
}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (None, RECORD),
        ("", RECORD),
        ('{"os": 0, "cpu": 0}', {k: v for k, v in RECORD.items() if k not in ("os", "cpu")}),
        ('{"hostname": 1}', {"_id": 7, "hostname": "web-1"}),
        ('{"hostname": 1, "_id": 0}', {"hostname": "web-1"}),
        ('{"hostname": true, "missing": 1}', {"_id": 7, "hostname": "web-1"}),
        ('{"_id": 1}', {"_id": 7}),
        ('{"_id": 0}', {k: v for k, v in RECORD.items() if k != "_id"}),
        ('{"summary.cpu_percent": 1}', {"_id": 7, "summary": {"cpu_percent": 60}}),
        ('{"os.version": 0}', {**RECORD, "os": {"name": "Linux"}}),
        ('{"cpu.user": 1}', {"_id": 7, "cpu": [{"user": 50}, {"user": 5}]}),
        ('{"cpu.user": 0}', {**RECORD, "cpu": [{"system": 10}, {"system": 1}, 3]}),
        ('{"hostname.x": 1}', {"_id": 7}),
        ('{"os": 0, "_id": 0}', {k: v for k, v in RECORD.items() if k not in ("os", "_id")}),
    ],
)
def test_projection(fields: str | None, expected: dict[str, Any]) -> None:
    before = repr(RECORD)
    assert parse_fields(fields).apply(RECORD) == expected
    assert repr(RECORD) == before, "the record is not changed"


def test_needs_tells_which_columns_to_fetch() -> None:
    only = parse_fields('{"summary.cpu_percent": 1, "system": 1}')
    assert [only.needs(n) for n in ("_id", "summary", "system", "cpu")] == [True, True, True, False]
    without = parse_fields('{"cpu": 0, "os.version": 0, "_id": 0}')
    assert [without.needs(n) for n in ("_id", "cpu", "os", "hostname")] == [
        False,
        False,
        True,
        True,
    ]
    assert parse_fields(None).needs("anything")
