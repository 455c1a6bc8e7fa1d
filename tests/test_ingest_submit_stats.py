"""submit_stats documents: what is accepted, what is refused and why, and the Glances shape."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from fleetwatch.ingest.normalise import memory_bytes, normalise
from fleetwatch.ingest.submit_stats import InvalidDocument, parse_json, validate, validate_alerts

# The reference's shell-script body, as it stands.
SCRIPT_DATA = (
    '{ "hostname" : "TESTHOST", "version" : "TESTVERSION", "storage" : { "total-bytes" : 4096, '
    '"used-bytes" : 1523 }, "memory" : {"bytes-per-page" : 4096, "active-pages" : 50, '
    '"free-pages" : 100, "inactive-pages" : 30 }, "cpu" : [{"user":50,"system":10,"idle":40}], '
    '"cpu_temperatures" : [30], "disk" : [{"Name":"ada0", "KBps read" : 60, "KBps write" : 20}]}'
)
# The reference's request example (it omits network and uptime_seconds; fixed missing comma).
REQUEST_EXAMPLE = {
    "hostname": "1.2.3.4",
    "cpu": [{"user": 15, "system": 25, "idle": 60}],
    "memory": {
        "bytes-per-page": 256,
        "cache-hit-percent": 23,
        "free-bytes": 12885465088,
        "inactive-pages": 234980,
        "active-pages": 35654568,
    },
    "storage": {"total-bytes": 32098409238230, "used-bytes": 430984030458},
    "network": [{"name": "igb0", "KB/s in": 13568, "KB/s out": 2036}],
    "version": "2.7.6",
    "uptime_seconds": 518799978,
}


def test_the_reference_script_body_is_accepted_and_normalised() -> None:
    doc = validate(parse_json(SCRIPT_DATA.encode()))
    stats = normalise(doc)
    assert stats["system"] == {"hostname": "TESTHOST", "os_version": "TESTVERSION"}
    assert stats["cpu"] == {"total": 60.0, "user": 50.0, "system": 10.0, "idle": 40.0, "cpucore": 1}
    assert stats["percpu"][0]["cpu_number"] == 0
    assert stats["mem"]["total"] == (50 + 100 + 30) * 4096
    assert stats["mem"]["available"] == (100 + 30) * 4096
    assert stats["mem"]["percent"] == round(100 * 50 / 180, 1)
    assert stats["fs"][0]["size"] == 4096
    assert stats["fs"][0]["percent"] == round(100 * 1523 / 4096, 1)
    assert stats["diskio"][0]["disk_name"] == "ada0"
    assert stats["diskio"][0]["read_bytes_rate_per_sec"] == 60 * 1024
    assert stats["sensors"][0]["value"] == 30.0
    assert "network" not in stats  # absent, recorded as absent
    assert "uptime" not in stats


def test_the_reference_request_example_is_accepted() -> None:
    stats = normalise(validate(REQUEST_EXAMPLE))
    assert stats["network"][0]["interface_name"] == "igb0"
    assert stats["network"][0]["bytes_recv_rate_per_sec"] == 13568 * 1024
    assert stats["uptime"] == "6004 days, 15:06:18"
    assert stats["mem"]["cache_hit_percent"] == 23.0


def test_bytes_win_over_pages_of_the_same_kind() -> None:
    kinds = memory_bytes(
        {"bytes-per-page": 4096, "free-pages": 10, "free-bytes": 7, "wired-pages": 2}
    )
    assert kinds == {"free": 7.0, "wired": 8192.0}


def test_unknown_extra_fields_are_kept() -> None:
    doc = validate({"hostname": "h", "rack": "B7", "tags": ["x"]})
    assert doc["rack"] == "B7"


@pytest.mark.parametrize(
    ("document", "message"),
    [
        ({}, "hostname is required"),
        ({"hostname": 5}, "hostname must be a string"),
        ([], "the document must be an object"),
        ({"hostname": "h", "cpu": {}}, "cpu must be an array"),
        (
            {"hostname": "h", "cpu": [{"user": "x", "system": 1, "idle": 1}]},
            "cpu[0].user must be a number",
        ),
        ({"hostname": "h", "cpu": [{"user": 1, "idle": 1}]}, "cpu[0].system is required"),
        (
            {"hostname": "h", "cpu": [{"user": True, "system": 1, "idle": 1}]},
            "cpu[0].user must be a number",
        ),
        (
            {"hostname": "h", "memory": {"free-pages": 3}},
            "memory.free-pages needs memory.bytes-per-page",
        ),
        ({"hostname": "h", "memory": {"free-bytes": "3"}}, "memory.free-bytes must be a number"),
        ({"hostname": "h", "network": [{"KB/s in": 1}]}, "network[0].name is required"),
        (
            {"hostname": "h", "network": [{"name": "e0", "KB/s in": "fast"}]},
            "network[0].KB/s in must be a number",
        ),
        (
            {"hostname": "h", "storage": {"total-bytes": None}},
            "storage.total-bytes must be a number",
        ),
        ({"hostname": "h", "disk": [{"KBps read": 1}]}, "disk[0].Name is required"),
        ({"hostname": "h", "cpu_temperatures": ["hot"]}, "cpu_temperatures[0] must be a number"),
        ({"hostname": "h", "uptime_seconds": "1d"}, "uptime_seconds must be a number"),
        ({"hostname": "h", "version": 2}, "version must be a string"),
        ({"hostname": "h" * 5000}, "hostname is longer than"),
        (
            {"hostname": "h", "disk": [{"Name": f"d{i}"} for i in range(10_000)]},
            "disk has more than",
        ),
    ],
)
def test_bad_documents_name_the_field(document: Any, message: str) -> None:
    with pytest.raises(InvalidDocument) as err:
        validate(document)
    assert message in str(err.value)


@pytest.mark.parametrize(
    ("body", "words"),
    [
        (b'{"hostname": "h",\n "cpu": [}', "line 2 column"),
        (b'{"hostname": NaN}', "malformed JSON"),
        (b'{"hostname": Infinity}', "malformed JSON"),
        (b"[" * 2000 + b"]" * 2000, "malformed JSON"),
        (b"", "malformed JSON"),
    ],
)
def test_malformed_and_hostile_json_is_refused(body: bytes, words: str) -> None:
    with pytest.raises(InvalidDocument) as err:
        validate(parse_json(body))
    assert words in str(err.value)


def test_normalised_form_is_json_serialisable() -> None:
    orjson.dumps(normalise(validate(parse_json(SCRIPT_DATA.encode()))))


def test_braces_in_submitted_names_are_named_not_interpreted() -> None:
    """Locations are formatted from our templates; a key like '{0}' is only ever an argument."""
    with pytest.raises(InvalidDocument, match=r"^network\[0\]\.\{0\} must be a number$"):
        validate({"hostname": "h", "network": [{"name": "x", "{0}": "bad"}]})
    with pytest.raises(InvalidDocument, match=r"^alert 'a\{\}': time_t must be a number$"):
        validate_alerts({"a{}": {"source": "s", "type": "warning", "time_t": "x", "text": "t"}})
