"""Saving a notification incident (by subject and opening time) is an index look-up on both
backends, not a scan of every incident kept (migration 0017): with 10,000 STALE events ending at
once the scans held the one SQLite write lock for seconds."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest

from fleetwatch.store import Store
from fleetwatch.store.notify_sql import _SAVE_INCIDENT

pytestmark = pytest.mark.anyio
PARAMS = (None, 0, "{}", "{}", "system:nas1:STALE", 1.0)


async def test_an_incident_is_saved_through_an_index(store: Store, store_url: str) -> None:
    if store.dialect == "sqlite":
        path = store_url.removeprefix("sqlite:///")
        with sqlite3.connect(path) as conn:
            plan = conn.execute(f"EXPLAIN QUERY PLAN {_SAVE_INCIDENT}", PARAMS).fetchall()
        detail = " ".join(str(row[-1]) for row in plan)
        assert "USING INDEX notify_incidents_subject_opened" in detail, detail
        return
    with psycopg.connect(store_url, autocommit=True) as conn:
        conn.execute("SET enable_seqscan = off")  # an empty table: ask whether one can serve
        sql = _SAVE_INCIDENT.replace("?", "%s")
        shown = "\n".join(r[0] for r in conn.execute(f"EXPLAIN {sql}", PARAMS).fetchall())
    assert "notify_incidents_subject_opened" in shown, shown
