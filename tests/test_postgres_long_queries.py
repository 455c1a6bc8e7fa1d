"""Long list queries on PostgreSQL: numbered in a thread and sent as they are (``numbered``)."""

from __future__ import annotations

import pytest

from fleetwatch.store import StoreError, open_store
from fleetwatch.store.postgres import LONG_QUERY_CHARS, numbered

pytestmark = pytest.mark.anyio


def test_each_name_gets_one_number_and_percent_signs_stay() -> None:
    sql = "SELECT %(a)s, %(b)s, %(a)s, 'x%%y' WHERE %(c)s"
    assert numbered(sql, {"a": 1, "b": "two", "c": None, "unused": 4}) == (
        "SELECT $1, $2, $1, 'x%y' WHERE $3",
        [1, "two", None],
    )
    with pytest.raises(StoreError, match="'b'"):
        numbered("SELECT %(a)s, %(b)s", {"a": 1})


@pytest.mark.postgres
async def test_a_long_query_gives_what_a_short_one_gives(postgres_url: str) -> None:
    store = open_store(postgres_url)
    await store.open()
    try:
        # 300 conditions: far past the length psycopg would parse on the event loop.
        terms = " OR ".join(f"(n = %(v{i})s AND %(t)s)" for i in range(300))
        sql = f"SELECT n FROM generate_series(1, 1000) AS n WHERE {terms} ORDER BY n"
        assert len(sql) > LONG_QUERY_CHARS
        params: dict[str, object] = {f"v{i}": i * 3 for i in range(300)}
        params["t"] = True
        rows = await store.select(sql, params, time_limit=5)
        assert [n for (n,) in rows] == [i * 3 for i in range(1, 300) if i * 3 <= 1000]
        short = await store.select(
            "SELECT n FROM generate_series(1, 10) AS n WHERE n > %(v)s", {"v": 8}, time_limit=5
        )
        assert [n for (n,) in short] == [9, 10]
    finally:
        await store.close()
