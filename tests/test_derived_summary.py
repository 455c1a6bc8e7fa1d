"""PostgreSQL stores no summary since migration 0018: reads derive it from the document and its
normal form. The records served are the same on both backends, the fleet keeps what it derived
by snapshot id within a bound, and a projection that drops the summary does not derive it."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from test_list_api import TEST_ACTOR, _doc, _list, _login, client, hub  # noqa: F401

from fleetwatch.app import Hub
from fleetwatch.ingest.normalise import normalise
from fleetwatch.store.listing import COLLECTIONS
from fleetwatch.store.pg_snapshots import SummaryCache, packed_row

pytestmark = pytest.mark.anyio


async def _pushed(client: httpx.AsyncClient, hub: Hub) -> None:  # noqa: F811
    _, token = await hub.admin.add_system(TEST_ACTOR, "nas1")
    for cpu in (10, 95):
        answer = await client.put(
            "/api/external/submit_stats", json=_doc("nas1", cpu, disks=2), auth=("", token)
        )
        assert answer.json() == {"result": "success"}


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        (None, {"cpu_percent": 95.0, "storage_percent": 25.0, "cpu_num": 2}),
        ({"summary.cpu_percent": 1}, {"cpu_percent": 95.0}),
        ({"summary": 0}, None),
        ({"hostname": 1}, None),
    ],
)
async def test_summaries_as_served(
    client: httpx.AsyncClient,  # noqa: F811
    hub: Hub,  # noqa: F811
    fields: dict[str, int] | None,
    expected: dict[str, Any] | None,
) -> None:
    await _pushed(client, hub)
    auth = await _login(client, hub, "ann", "readonly")
    params: dict[str, Any] = {"sort": {"createdAt": -1}}
    if fields is not None:
        params["fields"] = fields
    newest = (await _list(client, auth, **params))["statistics"][0]
    if expected is None:
        assert "summary" not in newest
    else:
        assert {k: newest["summary"][k] for k in expected} == expected
        assert newest["summary"].keys() >= expected.keys()
    fleet = (await client.get("/api/v1/systems", params={"name": "nas1"}, headers=auth)).json()
    [system] = fleet["systems"]
    assert system["current"]["cpu_percent"] == 95.0
    assert system["version"] == "13.0-U6"


def test_a_record_left_underived_holds_no_summary() -> None:
    statistics = COLLECTIONS["statistics"]
    assert statistics.derived_fields == ("summary",)
    document = _doc("nas1", 40)
    *_, document_z, normalized_z, summary_z = packed_row(
        1, 1.0, document, normalise(document), "push"
    )
    by_name = {"_id": 1, "systemId": 1, "system": "nas1", "createdAt": 1.0,
               "_updatedAt": 1.0, "source": "push", "hostname": "nas1", "summary": summary_z,
               "tags": "[]"}  # fmt: skip
    row = (*(by_name[f.name] for f in statistics.fields), document_z, normalized_z)
    assert statistics.record(row)["summary"]["cpu_percent"] == 40.0
    assert statistics.record(row, derive=False)["summary"] is None
    assert statistics.record(row)["hostname"] == "nas1"


def test_derived_summaries_are_kept_by_snapshot_id_within_a_bound() -> None:
    cache = SummaryCache(size=2)
    for n, cpu in enumerate((10, 20, 30)):
        document = _doc(f"h{n}", cpu)
        *_, document_z, normalized_z, summary_z = packed_row(
            1, 1.0, document, normalise(document), "push"
        )
        assert summary_z == b""  # no summary stored
        assert isinstance(document_z, bytes)
        assert isinstance(normalized_z, bytes)
        summary = cache.summary(n, "push", document_z, normalized_z)
        assert summary["cpu_percent"] == float(cpu)
        assert summary["agent_version"] == "13.0-U6"
    assert list(cache._kept) == [1, 2]  # the oldest asked for went
    assert cache.summary(2, "push", b"", None)["cpu_percent"] == 30.0  # kept: not unpacked
