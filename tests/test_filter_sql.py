"""OP5 filters pushed into SQL give what the Python predicate gives, on both backends."""

from __future__ import annotations

import pytest

from fleetwatch.api.op5_filter import parse_filter
from fleetwatch.api.status import COLUMNS, PUSHABLE, object_row
from fleetwatch.engine.checks import CheckService
from fleetwatch.store import Store
from fleetwatch.store.checks import Compare, ObjectKind

FILTERS = [
    ("[services] all", True),
    ("[hosts] all", True),
    ("[services] state != 0", True),
    ("[services] state >= 1 and state < 3", True),
    ('[services] host.name = "web1"', True),
    ('[services] host.name != "web1"', True),
    ('[services] host.name = "web1" or host.name = "db1"', True),
    ('[services] not (host.name = "web1" or state = 0)', True),
    ('[services] description = "Disk" and not state = 0', True),
    ('[services] plugin_output = "" or notes = "n"', True),
    ("[services] current_attempt = 2 or max_check_attempts > 1", True),
    ("[services] is_stale = 0 and acknowledged = 0 and freshness_threshold > 10", True),
    ('[hosts] name ~~ "^WEB"', False),  # a regular expression: Python
    ('[services] state != 0 and host.name ~ "1$"', False),  # SQL narrows, Python decides
    ('[services] host.name ~ "^db" or state = 2', False),  # no condition for one side
    ('[services] not host.name ~ "^db"', False),
    ('[services] host.name > "d"', False),  # text order depends on the collation
    ('[services] state = "2"', False),  # a number column against a string
    ("[services] last_check > 0", False),  # shown as whole seconds
    ('[services] description =~ "DISK"', False),
]


@pytest.fixture
async def objects(store: Store) -> Store:
    checks = CheckService(store)
    await checks.prepare()
    for host in ("web1", "web2", "db1", "Web3"):
        await store.add_check_object("host", host)
        for service, attempts in (("Disk", 1), ("Backup", 3), ("disk", 2)):
            await store.add_check_object("service", host, service, max_check_attempts=attempts,
                                         freshness_threshold=60 if host != "db1" else None,
                                         notes="n" if host == "web2" else "")  # fmt: skip
    results = [("web1", "Disk", 2, "full"), ("db1", "Backup", 1, ""), ("web2", "Backup", 2, "x"),
               ("Web3", "disk", 3, "?"), ("db1", "Disk", 0, "fine")]  # fmt: skip
    for host, service, code, text in results:
        await checks.process_result(host, service, code, text)
    await checks.process_result("web1", None, 1, "down")
    return store


@pytest.mark.parametrize(("text", "exact"), FILTERS, ids=[f for f, _ in FILTERS])
async def test_sql_and_python_agree(objects: Store, text: str, exact: bool) -> None:
    python = parse_filter(text, COLUMNS)
    pushed = parse_filter(text, COLUMNS, PUSHABLE)
    assert pushed.exact is exact
    kind: ObjectKind = "host" if python.table == "hosts" else "service"
    every = [object_row(obj) for obj in await objects.list_check_objects(kind)]
    expected = [row for row in every if python.predicate(row)]
    narrowed = [object_row(obj) for obj in await objects.select_check_objects(kind, pushed.where)]
    got = narrowed if pushed.exact else [row for row in narrowed if pushed.predicate(row)]
    assert got == expected
    assert len(expected) > 0 or text in ('[services] state = "2"',)
    if pushed.exact:
        assert await objects.count_check_objects(kind, pushed.where) == len(expected)


async def test_sorted_pages_in_sql_match_python(objects: Store) -> None:
    every = [object_row(obj) for obj in await objects.list_check_objects("service")]
    for key, column, descending in (("state", "state", True), ("current_attempt", "attempt",
                                                                False)):  # fmt: skip
        expected = sorted(every, key=lambda row: row[key], reverse=descending)
        for offset in (0, 3, 11):
            page = await objects.select_check_objects(
                "service", None, order=[(column, descending)], limit=4, offset=offset
            )
            assert [object_row(obj) for obj in page] == expected[offset : offset + 4]


async def test_only_whitelisted_comparisons_reach_sql(objects: Store) -> None:
    for bad in (Compare("saved_by", "=", "x"), Compare("host_name", "<", "a"),
                Compare("state", "=", "2"), Compare("state; DROP TABLE x", "=", 1.0)):  # fmt: skip
        with pytest.raises(ValueError, match="cannot compare"):
            await objects.count_check_objects("service", bad)
    with pytest.raises(ValueError, match="cannot sort"):
        await objects.select_check_objects("service", order=[("host_name", False)])
