"""Schemathesis against the hub's own ``/openapi.json``: no 5xx, and every answer in its schema.

A real ``fleetwatch serve`` per backend, fuzzed as an admin (and ``/api/external`` as a system,
with its token), failing on any 5xx and on any response that breaks its declared schema. The
budget is fixed (a seed, phases, examples) so ``make test`` stays fast and reproducible:

* ``FLEETWATCH_FUZZ_PHASES`` (default ``coverage``: every operation with the schema's edge
  values, about 2,500 cases per backend) and ``FLEETWATCH_FUZZ_EXAMPLES`` (default 10);
* ``make fuzz`` runs every phase with 200 examples per operation, by hand.

The malformed chunked body that was a 500 is checked here too: it needs a real server.
"""

from __future__ import annotations

import base64
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest
from serving import ServeProcess, run_cli

pytestmark = [pytest.mark.e2e, pytest.mark.fuzz]

PASSWORD = "fuzzing password"
SEED = "17"
CHECKS = "not_a_server_error,response_schema_conformance"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def served(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[ServeProcess, str]]:
    args: list[str] = []
    if request.param == "postgres":
        args = ["--database", request.getfixturevalue("postgres_url")]
    where = ["--data-dir", str(tmp_path), *args]
    added = run_cli("user", "add", "admin", "--group", "admin", "--password-stdin", *where,
                    stdin=PASSWORD + "\n")  # fmt: skip
    assert added.returncode == 0, added.stderr
    token = run_cli("system", "add", "box", *where).stdout.strip()
    # events.stream holds its answer open up to max_stream_seconds (an hour by default): every
    # generated request to it would wait for schemathesis' request timeout. One second still
    # fuzzes its parameters and headers, and cut the run from ~90 s to ~15 s per backend.
    config = tmp_path / "fuzz.toml"
    config.write_text("[events]\nmax_stream_seconds = 1\n", encoding="utf-8")
    with ServeProcess(tmp_path, *args, "--config", str(config)) as hub:
        yield hub, token


def schemathesis(hub: ServeProcess, *args: str) -> subprocess.CompletedProcess[str]:
    phases = os.environ.get("FLEETWATCH_FUZZ_PHASES", "coverage")
    examples = os.environ.get("FLEETWATCH_FUZZ_EXAMPLES", "10")
    command = [
        str(Path(sys.executable).with_name("schemathesis")), "run",
        hub.url.rstrip("/") + "/openapi.json", "--checks", CHECKS, "--phases", phases,
        "--max-examples", examples, "--seed", SEED, "--workers", "4", "--no-shrink",
        "--no-color", "--generation-database", "none", "--request-timeout", "30", *args,
    ]  # fmt: skip
    # In the hub's data directory: schemathesis keeps a cache of crashes in its working one.
    return subprocess.run(command, capture_output=True, text=True, timeout=900, check=False,
                          cwd=hub.data_dir)  # fmt: skip


def test_no_5xx_and_every_answer_in_its_schema(served: tuple[ServeProcess, str]) -> None:
    hub, token = served
    as_admin = schemathesis(hub, "--auth", f"admin:{PASSWORD}",
                            "--exclude-path-regex", "^/api/external/")  # fmt: skip
    assert as_admin.returncode == 0, as_admin.stdout[-6000:]
    as_system = schemathesis(hub, "--header", f"Authorization: Basic {_basic(token)}",
                             "--include-path-regex", "^/api/external/")  # fmt: skip
    assert as_system.returncode == 0, as_system.stdout[-6000:]
    assert not [line for line in hub.log if "Traceback" in line]


def test_a_malformed_chunk_size_is_a_400(served: tuple[ServeProcess, str]) -> None:
    hub, token = served
    address = urlsplit(hub.url)
    assert address.hostname is not None
    for path in ("/api/v1/login", "/api/external/submit_stats"):
        request = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n"
                   f"Connection: close\r\nAuthorization: Basic {_basic(token)}\r\n\r\n"
                   "zz\r\n{}\r\n0\r\n\r\n")  # fmt: skip
        with socket.create_connection((address.hostname, address.port or 80), timeout=10) as s:
            s.sendall(request.encode())
            status_line = s.makefile("rb").readline()
        assert status_line.split()[1] == b"400", (path, status_line)


def _basic(token: str) -> str:
    return base64.b64encode(f":{token}".encode()).decode()
