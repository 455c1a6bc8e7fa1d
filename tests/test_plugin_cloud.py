"""``cloud``: off by default, so nothing is contacted; enabled, it reads an EC2-compatible
metadata service. This machine is not a cloud instance we may query, so the enabled path
runs against a fake metadata service of ours on 127.0.0.1 (``base_url`` in the config)."""

from __future__ import annotations

import http.server
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest

from fleetwatch.collect.base import CollectContext
from fleetwatch.collect.cloud import CloudCollector
from fleetwatch.model.limits import Limits, apply_overrides, default_limits

METADATA = {
    "/latest/meta-data/instance-id": "i-0abc123def4567890",
    "/latest/meta-data/instance-type": "m7i.large",
    "/latest/meta-data/ami-id": "ami-0123456789abcdef0",
    "/latest/meta-data/placement/region": "eu-west-3",
}
TOKEN = "AQAEAFTNrA4eEGx0AQgJ1arIq_Cc"


class FakeMetadata(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, require_token: bool) -> None:
        self.require_token = require_token
        self.requests: list[str] = []
        super().__init__(("127.0.0.1", 0), MetadataHandler)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"


class MetadataHandler(http.server.BaseHTTPRequestHandler):
    server: FakeMetadata

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_PUT(self) -> None:
        self.server.requests.append(f"PUT {self.path}")
        self.reply(200, TOKEN) if self.path == "/latest/api/token" else self.reply(404, "")

    def do_GET(self) -> None:
        self.server.requests.append(f"GET {self.path}")
        if self.server.require_token and self.headers.get("X-aws-ec2-metadata-token") != TOKEN:
            self.reply(401, "")
        elif self.path in METADATA:
            self.reply(200, METADATA[self.path])
        else:
            self.reply(404, "")

    def reply(self, status: int, text: str) -> None:
        data = text.encode()
        self.send_response(status)
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


@pytest.fixture(params=[True, False], ids=["imdsv2", "imdsv1"])
def metadata(request: pytest.FixtureRequest) -> Iterator[FakeMetadata]:
    server = FakeMetadata(require_token=request.param)
    threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True).start()
    yield server
    server.shutdown()
    server.server_close()


def limits_with(**values: Any) -> dict[str, Limits]:
    limits = default_limits(["cloud"], 1200)
    apply_overrides(limits, "cloud", values)
    return limits


def test_disabled_by_default_and_contacts_nothing(metadata: FakeMetadata) -> None:
    defaults = default_limits(["cloud"], 1200)
    assert defaults["cloud"]["cloud_disable"] == ["True"]
    ctx = CollectContext(now=time.time(), limits=limits_with(base_url=metadata.url))

    assert CloudCollector().collect(ctx) == {}
    assert metadata.requests == []


def test_enabled_reads_the_metadata_once(metadata: FakeMetadata) -> None:
    collector = CloudCollector()
    limits = limits_with(disable=False, base_url=metadata.url, timeout=0.5)

    first = collector.collect(CollectContext(now=1000.0, limits=limits))
    asked = len(metadata.requests)
    second = collector.collect(CollectContext(now=1002.0, limits=limits))

    assert first == {
        "instance-id": "i-0abc123def4567890",
        "instance-type": "m7i.large",
        "ami-id": "ami-0123456789abcdef0",
        "region": "eu-west-3",
        "type": "metadata service",
    }
    assert second == first
    assert len(metadata.requests) == asked  # kept, not asked again


def test_unreachable_service_is_retried_only_after_a_pause() -> None:
    with FakeMetadata(require_token=False) as closed:
        url = closed.url  # bound, then closed: nothing listens there any more
    collector = CloudCollector()
    limits = limits_with(disable=False, base_url=url, timeout=0.2)

    started = time.perf_counter()
    assert collector.collect(CollectContext(now=1000.0, limits=limits)) == {}
    assert collector.collect(CollectContext(now=1002.0, limits=limits)) == {}
    assert time.perf_counter() - started < 2.0
    assert collector._failed_at == 1000.0
