"""The push agent's parts on this machine: its document, its spool and its backoff."""

from __future__ import annotations

import time
from pathlib import Path

import orjson
import pytest

from fleetwatch.agent.document import DocumentBuilder
from fleetwatch.agent.sender import Backoff
from fleetwatch.agent.spool import Spool
from fleetwatch.ingest.normalise import normalise
from fleetwatch.ingest.submit_stats import validate


def test_the_document_is_a_valid_submit_stats_body_of_this_machine() -> None:
    builder = DocumentBuilder()
    builder.build()
    time.sleep(0.2)
    doc = validate(orjson.loads(orjson.dumps(builder.build())))
    assert doc["hostname"]
    assert len(doc["cpu"]) >= 1
    assert "lo" not in [n["name"] for n in doc["network"]]  # hidden as the hub hides it
    stats = normalise(doc)
    meminfo = Path("/proc/meminfo").read_text().split()
    assert stats["mem"]["total"] == int(meminfo[meminfo.index("MemTotal:") + 1]) * 1024
    assert "/" in [f["mnt_point"] for f in stats["fs"]]
    assert stats["load"]["cpucore"] >= 1


def test_spool_keeps_order_and_is_bounded(tmp_path: Path) -> None:
    spool = Spool(tmp_path / "spool", max_items=3)
    for n in range(5):
        spool.put(f'{{"n": {n}}}'.encode())
    assert len(spool) == 3
    seen = []
    while (item := spool.oldest()) is not None:
        seen.append(orjson.loads(item[1])["n"])
        spool.remove(item[0])
    assert seen == [2, 3, 4]  # the two oldest were dropped
    assert not list((tmp_path / "spool").glob("*.tmp"))


def test_spool_survives_a_new_process(tmp_path: Path) -> None:
    Spool(tmp_path).put(b"{}")
    again = Spool(tmp_path)
    again.put(b"[]")
    assert len(again) == 2


@pytest.mark.parametrize("failures", [1, 5, 20])
def test_backoff_is_capped_and_jittered(failures: int) -> None:
    backoff = Backoff(base=1.0, cap=30.0)
    delays = [backoff.next_delay() for _ in range(failures)]
    assert all(0 <= d <= 30.0 for d in delays)
    backoff.reset()
    assert backoff.failures == 0
