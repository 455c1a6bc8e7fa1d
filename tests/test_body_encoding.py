"""``Content-Encoding: gzip`` request bodies: every route family that reads a body, on SQLite
and PostgreSQL, bounded after decompression (a bomb is 413), 415 for other codings and 400
for a broken stream; and the reader itself, chunk by chunk."""

from __future__ import annotations

import gzip
import json
import tracemalloc
import zlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hubs import CHEAP_HASHING, add_user, basic, client_for
from test_ingest_submit_stats import SCRIPT_DATA

from fleetwatch.api.body_encoding import BodyReader, content_encoding
from fleetwatch.api.errors import BadRequest, PayloadTooLarge, UnsupportedMediaType
from fleetwatch.app import Hub, build_hub
from fleetwatch.auth.admin import Actor
from fleetwatch.config import load_config

pytestmark = pytest.mark.anyio

LIMIT = 256 * 1024
ADMIN = Actor("test", "127.0.0.1")
GZIPPED = {"content-encoding": "gzip"}
SERVICE = "/api/command/PROCESS_SERVICE_CHECK_RESULT"
RESULT = {"host_name": "web", "service_description": "disk", "status_code": "1",
          "plugin_output": "WARNING - 81% used"}  # fmt: skip
ALERTS = {"fan": {"source": "ipmi", "type": "warning", "time_t": 1700000000, "text": "fan slow"}}


def bomb(plain_bytes: int) -> bytes:
    """``plain_bytes`` spaces (valid JSON padding) gzipped: about a thousandth of the size."""
    packer = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    block = b" " * (1 << 20)
    parts = [packer.compress(block) for _ in range(plain_bytes >> 20)]
    return b"".join([*parts, packer.flush()])


@pytest.fixture
async def hub(store_url: str, tmp_path: Path) -> AsyncIterator[Hub]:
    config = load_config(env={}, flags={("storage", "data_dir"): str(tmp_path),
                                        ("storage", "database"): store_url,
                                        ("server", "max_body_bytes"): LIMIT})  # fmt: skip
    the_hub = build_hub(config)
    the_hub.auth.hashing = the_hub.admin.hashing = CHEAP_HASHING
    await the_hub.prepare()
    await the_hub.store.add_check_object("host", "web")
    await the_hub.store.add_check_object("service", "web", "disk")
    yield the_hub
    await the_hub.store.close()


@pytest.fixture
async def client(hub: Hub) -> AsyncIterator[httpx.AsyncClient]:
    async with client_for(hub) as the_client:
        yield the_client


def packed(value: Any) -> bytes:
    return gzip.compress(json.dumps(value).encode())


async def test_truecommand_hooks_take_gzip(hub: Hub, client: httpx.AsyncClient) -> None:
    system, token = await hub.admin.add_system(ADMIN, "nas1")
    stats = await client.put("/api/external/submit_stats", auth=("", token), headers=GZIPPED,
                             content=gzip.compress(SCRIPT_DATA.encode()))  # fmt: skip
    assert stats.json() == {"result": "success"}
    snapshot = await hub.store.latest_snapshot(system.id)
    assert snapshot is not None
    assert snapshot.document["hostname"] == "TESTHOST"
    alerts = await client.post("/api/external/submit_alerts", auth=("", token),
                               headers={"content-encoding": "x-gzip"},
                               content=packed(ALERTS))  # fmt: skip
    assert alerts.json() == {"result": "success"}
    [event] = await hub.store.list_events(system_id=system.id)
    assert event.type == "ALERT_fan"


async def test_op5_commands_take_gzip_json_and_forms(hub: Hub, client: httpx.AsyncClient) -> None:
    auth = await add_user(hub, "status_update", "pw", "status_update")
    done = await client.post(SERVICE, headers={**auth, **GZIPPED,
                                               "content-type": "application/json"},
                             content=packed(RESULT))  # fmt: skip
    assert done.status_code == 200, done.text
    form = httpx.QueryParams({**RESULT, "status_code": "2"}).__str__().encode()
    done = await client.post(SERVICE, headers={**auth, **GZIPPED,
                                               "content-type": "application/x-www-form-urlencoded"},
                             content=gzip.compress(form))  # fmt: skip
    assert done.status_code == 200, done.text
    got = (await client.get("/api/status/service/web;disk", headers=auth)).json()
    assert got["state"] == 2
    assert got["plugin_output"] == "WARNING - 81% used"


async def test_admin_api_takes_gzip(hub: Hub, client: httpx.AsyncClient) -> None:
    await hub.admin.add_system(ADMIN, "web1")
    auth = await add_user(hub, "admin", "pw", "admin")
    body = packed({"name": "web1", "add": "db"})
    headers = {**auth, **GZIPPED, "content-type": "application/json"}
    tagged = await client.post("/api/v1/systems.tag", content=body, headers=headers)
    assert tagged.json() == {"tags": ["db"], "success": True}


async def test_a_gzip_bomb_is_413_naming_the_limit_on_every_family(
    hub: Hub, client: httpx.AsyncClient
) -> None:
    _, token = await hub.admin.add_system(ADMIN, "nas2")
    auth = await add_user(hub, "admin", "pw", "admin")
    body = bomb(64 << 20)  # 64 MiB of plain bytes, about 64 KB sent
    assert len(body) < LIMIT
    json_headers = {**GZIPPED, "content-type": "application/json"}
    tracemalloc.start()
    try:
        stats = await client.put("/api/external/submit_stats", auth=("", token),
                                 headers=json_headers, content=body)  # fmt: skip
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert stats.status_code == 413
    assert stats.json()["error"] == f"the body is larger than {LIMIT} bytes once decompressed"
    assert peak < 8 * LIMIT  # inflated up to the limit, never the 64 MiB
    op5 = await client.post(SERVICE, headers={**auth, **json_headers}, content=body)
    assert op5.status_code == 413
    assert str(LIMIT) in op5.json()["full_error"]
    admin = await client.post("/api/v1/systems.tag", headers={**auth, **json_headers},
                              content=body)  # fmt: skip
    assert admin.status_code == 413
    assert str(LIMIT) in admin.text


async def test_other_codings_are_415_and_broken_gzip_is_400(
    hub: Hub, client: httpx.AsyncClient
) -> None:
    _, token = await hub.admin.add_system(ADMIN, "nas3")
    auth = await add_user(hub, "admin", "pw", "admin")
    sends = [
        ("/api/external/submit_stats", basic("", token), "error"),
        (SERVICE, auth, "full_error"),
        ("/api/v1/systems.tag", auth, None),
    ]
    whole = gzip.compress(SCRIPT_DATA.encode())
    for path, headers, field in sends:
        for coding in ("br", "gzip, gzip", "deflate"):
            answer = await client.post(path, headers={**headers, "content-encoding": coding},
                                       content=whole)  # fmt: skip
            assert answer.status_code == 415, (path, coding)
            assert "gzip" in (answer.json()[field] if field else answer.text)
        for broken in (whole[:-6], b"not gzip at all", whole + b"trailing"):
            answer = await client.post(path, headers={**headers, **GZIPPED}, content=broken)
            assert answer.status_code == 400, (path, broken[-8:])
            assert "gzip" in (answer.json()[field] if field else answer.text)


# The reader alone: no backend involved.


def read(encoding: str, chunks: list[bytes], limit: int = 1000) -> bytes:
    reader = BodyReader(encoding, limit)
    for chunk in chunks:
        reader.feed(chunk)
    return reader.finish()


def test_the_reader_inflates_byte_by_byte_and_across_members() -> None:
    plain = b'{"a": "' + b"x" * 500 + b'"}'
    one = gzip.compress(plain)
    assert read("gzip", [one[i : i + 1] for i in range(len(one))]) == plain
    assert read("GZIP ,identity", [one + gzip.compress(b" ")]) == plain + b" "
    assert read("", [b"ab", b"cd"]) == b"abcd"
    assert read("identity", []) == b""
    assert read("gzip", []) == b""


@pytest.mark.parametrize("encoding", ["", "gzip"])
def test_the_limit_counts_plain_bytes(encoding: str) -> None:
    def body(size: int) -> list[bytes]:
        plain = b"y" * size
        return [gzip.compress(plain)] if encoding else [plain[:10], plain[10:]]

    assert len(read(encoding, body(1000))) == 1000
    with pytest.raises(PayloadTooLarge, match="larger than 1000 bytes"):
        read(encoding, body(1001))


def test_the_reader_refuses_what_it_cannot_read() -> None:
    with pytest.raises(UnsupportedMediaType, match="'compress'"):
        BodyReader("compress", 10)
    with pytest.raises(BadRequest, match="ends before its end"):
        read("gzip", [gzip.compress(b"abc")[:12]])
    assert content_encoding([(b"Content-Encoding", b"gzip"), (b"content-encoding", b"br")]) == (
        "gzip, br"
    )
