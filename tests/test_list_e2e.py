"""The query API over a real ``fleetwatch serve``: the README's curl tour, and the PyPI client
``rocketchat-API`` logging in and paging through ``statistics.list``, on both backends."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import httpx
import pytest
from rocketchat_API.APIExceptions.RocketExceptions import RocketApiException
from rocketchat_API.rocketchat import RocketChat
from serving import ServeProcess, run_cli

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct horse battery"


def _readme_block(heading: str) -> str:
    """The first ``sh`` block of the README section under ``heading``."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    section = text[text.index(heading) :]
    match = re.search(r"```sh\n(.*?)```", section, re.S)
    assert match is not None
    return match.group(1)


@pytest.fixture(params=["sqlite", "postgres"])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Any:
    args: list[str] = []
    if request.param == "postgres":
        args = ["--database", request.getfixturevalue("postgres_url")]
    where = ["--data-dir", str(tmp_path), *args]
    with ServeProcess(tmp_path, *args) as hub:
        added = run_cli("user", "add", "alice", "--group", "readonly", "--password-stdin",
                        *where, stdin=PASSWORD + "\n")  # fmt: skip
        assert added.returncode == 0, added.stderr
        token = run_cli("system", "add", "nas1", *where).stdout.strip()
        with httpx.Client(base_url=hub.url) as client:
            for n in range(12):
                body = {"hostname": "nas1", "cpu": [{"user": 80 + n, "system": 5, "idle": 15 - n}]}
                answer = client.put("/api/external/submit_stats", json=body, auth=("", token))
                assert answer.json() == {"result": "success"}
        yield hub


def test_the_readme_tour_runs_as_written(served: ServeProcess) -> None:
    script = _readme_block("## Querying").replace("PASSWORD", PASSWORD)
    script = script.replace("http://127.0.0.1:61208", served.url.rstrip("/"))
    done = subprocess.run(["bash", "-e", "-c", script], capture_output=True, text=True,
                          timeout=30, check=False)  # fmt: skip
    assert done.returncode == 0, done.stderr
    body = json.loads(done.stdout)
    assert body["success"] is True
    assert body["count"] == 5
    assert body["total"] == 6  # cpu totals run 85 % .. 96 %: six are above 90 %
    first = body["statistics"][0]
    assert set(first) == {"_id", "hostname", "createdAt", "summary"}
    assert first["summary"]["cpu_percent"] == 96.0  # the newest: user 91 + system 5


def test_rocketchat_api_pages_through_statistics_list(served: ServeProcess) -> None:
    client = RocketChat("alice", PASSWORD, server_url=served.url.rstrip("/"))
    # The client pages by itself (offset += count until a short page); 12 records, pages of 5.
    records = list(client.statistics_list(query='{"system": "nas1"}', sort='{"createdAt": 1}',
                                          count=5))  # fmt: skip
    assert len(records) == len({r["_id"] for r in records}) == 12
    totals = [r["summary"]["cpu_percent"] for r in records]
    assert totals == sorted(totals)
    # a dict kwarg arrives as Python's str(): read as a literal. The hub's own machine is a
    # system too (and busy under a loaded test run), hence the system in the query.
    hot = list(client.statistics_list(query={"system": "nas1",
                                             "summary.cpu_percent": {"$gte": 95}}))  # fmt: skip
    assert len(hot) == 2
    with pytest.raises(RocketApiException, match="error-invalid-query"):
        list(client.statistics_list(query='{"a": {"$where": "1"}}'))
