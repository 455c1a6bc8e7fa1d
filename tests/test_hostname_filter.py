"""A filter on hostnames answers the same on both backends, though PostgreSQL keeps no index
of them since migration 0018: it looks up the systems that sent each hostname
(``snapshot_hostnames``) and walks their (system_id, created_at) index. Machines renamed,
hostnames shared by two systems, a hostname sent only through another hub, and the migration
itself are covered here."""

from __future__ import annotations

from typing import Any

import httpx
import psycopg
import pytest
from test_list_api import TEST_ACTOR, _doc, _list, _login, client, hub  # noqa: F401
from test_query_indexes import _page

from fleetwatch.app import Hub
from fleetwatch.ingest.normalise import normalise
from fleetwatch.store import open_store

pytestmark = pytest.mark.anyio

# (system, hostname it sends, cpu): "a" was renamed from alpha to beta; "b" is also alpha.
PUSHES = [("a", "alpha", 10), ("a", "beta", 20), ("b", "alpha", 30), ("c", "gamma", 40)]


async def _pushed(client: httpx.AsyncClient, hub: Hub) -> None:  # noqa: F811
    tokens: dict[str, str] = {}
    for system, hostname, cpu in PUSHES:
        if system not in tokens:
            _, tokens[system] = await hub.admin.add_system(TEST_ACTOR, system)
        answer = await client.put(
            "/api/external/submit_stats", json=_doc(hostname, cpu), auth=("", tokens[system])
        )
        assert answer.json() == {"result": "success"}


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ({"hostname": "alpha"}, [30, 10]),
        ({"hostname": "beta"}, [20]),
        ({"hostname": {"$in": ["beta", "gamma"]}}, [40, 20]),
        ({"hostname": {"$in": ["nope", "gamma"]}}, [40]),
        ({"hostname": "nope"}, []),
        ({"hostname": {"$ne": "alpha"}}, [40, 20]),
        ({"hostname": {"$nin": ["alpha", "gamma"]}}, [20]),
        ({"$or": [{"hostname": "gamma"}, {"system": "a"}]}, [40, 20, 10]),
        ({"$nor": [{"hostname": "alpha"}]}, [40, 20]),
        ({"hostname": "alpha", "system": "b"}, [30]),
        ({"hostname": "alpha", "summary.cpu_percent": {"$lt": 20}}, [10]),
        ({"hostname": {"$regex": "^(alpha|beta)$"}}, [30, 20, 10]),
        ({"hostname": {"$gt": "beta"}}, [40]),
        ({"hostname": None}, []),
    ],
)
async def test_hostname_filters(
    client: httpx.AsyncClient,  # noqa: F811
    hub: Hub,  # noqa: F811
    query: dict[str, Any],
    expected: list[int],
) -> None:
    await _pushed(client, hub)
    auth = await _login(client, hub, "ann", "readonly")
    body = await _list(client, auth, query=query, sort={"createdAt": -1})
    assert [round(r["summary"]["cpu_percent"]) for r in body["statistics"]] == expected
    assert body["total"] == len(expected)
    wanted = {h for s, h, c in PUSHES if c in expected}
    assert {r["hostname"] for r in body["statistics"]} == wanted


@pytest.mark.postgres
@pytest.mark.parametrize("store_url", ["postgres"], indirect=True)  # the pairs are PostgreSQL's
async def test_a_hostname_sent_through_another_hub_is_found(
    client: httpx.AsyncClient,  # noqa: F811
    hub: Hub,  # noqa: F811
    store_url: str,
) -> None:
    await _pushed(client, hub)
    other = open_store(store_url)  # another hub on the same database
    await other.open()
    try:
        system = await other.get_system("c")
        assert system is not None
        document = _doc("delta", 55)
        await other.add_snapshot(system.id, 2e9, document, normalise(document), "push")
    finally:
        await other.close()
    auth = await _login(client, hub, "ann", "readonly")
    body = await _list(client, auth, query={"hostname": "delta"})
    assert [r["summary"]["cpu_percent"] for r in body["statistics"]] == [55.0]


@pytest.mark.postgres
async def test_migration_0018_records_every_pair_and_drops_the_index(postgres_url: str) -> None:
    store = open_store(postgres_url)
    await store.open()
    for system_name, hostname, cpu in PUSHES:
        system = await store.get_system(system_name) or await store.add_system(system_name)
        document = _doc(hostname, cpu)
        await store.add_snapshot(system.id, 1000.0 + cpu, document, normalise(document), "push")
    await store.close()
    with psycopg.connect(postgres_url, autocommit=True) as conn:  # back to 0017
        conn.execute("DROP TABLE snapshot_hostnames")
        conn.execute("DROP STATISTICS snapshots_hostname_system")
        conn.execute("DROP INDEX snapshots_hostname")
        conn.execute("CREATE INDEX snapshots_hostname_created ON snapshots (hostname, created_at)")
        conn.execute("DELETE FROM schema_migrations WHERE version = 18")
    store = open_store(postgres_url)
    await store.open()  # migrates
    try:
        pairs = await store.select(
            "SELECT y.name, h.hostname FROM snapshot_hostnames h JOIN systems y"
            " ON y.id = h.system_id ORDER BY 1, 2",
            {},
            time_limit=5,
        )
        assert [tuple(row) for row in pairs] == sorted({(s, h) for s, h, _ in PUSHES})
        indexes = await store.select(
            "SELECT indexname FROM pg_indexes WHERE tablename = 'snapshots'", {}, time_limit=5
        )
        assert "snapshots_hostname_created" not in {row[0] for row in indexes}
        # What tells the planner a system's rows share their hostname, analysed already.
        dependencies = await store.select(
            "SELECT d.stxddependencies IS NOT NULL FROM pg_statistic_ext e"
            " JOIN pg_statistic_ext_data d ON d.stxoid = e.oid"
            " WHERE e.stxname = 'snapshots_hostname_system'",
            {},
            time_limit=5,
        )
        assert [tuple(row) for row in dependencies] == [(True,)]
    finally:
        await store.close()


@pytest.mark.postgres
async def test_a_hostname_page_walks_its_system_newest_first(postgres_url: str) -> None:
    """With each system's rows sharing a hostname, the planner must not expect one row for
    "system_id = S AND hostname = X" and sort all of S's instead (the extended statistics)."""
    store = open_store(postgres_url)
    await store.open()
    try:
        ids = [(await store.add_system(f"s{n}")).id for n in range(20)]
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            conn.execute(
                "INSERT INTO snapshots (system_id, created_at, source, hostname, document_z,"
                " normalized_z, summary_z) SELECT (%s::bigint[])[g %% 20 + 1], g, 'push',"
                " 'h' || (g %% 20), '\\x01'::bytea, '', '' FROM generate_series(1, 60000) g",
                (ids,),
            )
            conn.execute(
                "INSERT INTO snapshot_hostnames SELECT DISTINCT hostname, system_id FROM snapshots"
            )
            conn.execute("ANALYZE snapshots")
        sql = await _page(store, '{"hostname": "h3"}', '{"createdAt": -1}')
        with psycopg.connect(postgres_url, autocommit=True) as conn:
            rows = conn.execute("EXPLAIN " + sql.text, sql.params).fetchall()
        plan = "\n".join(str(row[0]) for row in rows)
        assert "Index Scan Backward using snapshots_system_created" in plan, plan
    finally:
        await store.close()
