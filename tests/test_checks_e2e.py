"""Passive checks against a real ``fleetwatch serve``: the OP5 guide's curl command (a real
``curl``) and backup script (``fleetwatch report`` for ``update-status.py``), freshness on the
wall clock across a restart, and ``kill -9`` right after acknowledged results."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from serving import ServeProcess, run_cli

from fleetwatch.store import open_store
from fleetwatch.tls import self_signed

pytestmark = pytest.mark.e2e

USER, PASSWORD = "status_update", "mysecret"
CURL = """curl -s -u 'status_update:mysecret' -H 'content-type: application/json' \\
-d '{"host_name":"example_host_1","service_description":"Example service",\\
"status_code":"2","plugin_output":"Example issue has occurred"}' \\
--insecure '%s/api/command/PROCESS_SERVICE_CHECK_RESULT'"""

# The guide's backup script, with `fleetwatch report` in place of /path/to/update-status.py
# and the paths pointed into the test's folder; everything else as printed.
BACKUP_SCRIPT = """#!/usr/bin/env bash

# Fancy example backup script written in bash

DATE=$(date +'%F')
echo "Creating backup directory for $DATE..."

# Creating a directory for backup and copying files
mkdir -p "$BACKUPS/archive-$DATE"
cp -r "$SOURCE" "$BACKUPS/archive-$DATE"

# Checking the return code of the "cp" command
if [ "$?" == "0" ]; then
        echo "Backup was successful - updating service..."

        # Executing the status update script
        $FLEETWATCH report -M "monitorserver" \\
                -u "status_update" -p "my_secret" \\
                -H "$(hostname -f)" -S "Example service" \\
                -m "Backup for $DATE was successful" \\
                -s "OK" --insecure

        if [ "$?" == "0" ]; then
                echo "Status update successful"
                exit 0

        else
                echo "Status update failed"
                exit 2

        fi

else
        echo "Backup failed - updating service..."

        # Executing the status update script
        $FLEETWATCH report -M "monitorserver" \\
                -u "status_update" -p "my_secret" \\
                -H "$(hostname -f)" -S "Example service" \\
                -m "Backup for $DATE failed" \\
                -s "CRITICAL" --insecure

        if [ "$?" == "0" ]; then
                echo "Status update successful"
                exit 0

        else
                echo "Status update failed"
                exit 2

        fi

fi
"""


def fleetwatch(*args: str, stdin: str | None = None, module: str = "fleetwatch",
               env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:  # fmt: skip
    return run_cli(*args, stdin=stdin, module=module, env=env)


def add_user(data_dir: Path, name: str, password: str, group: str, *store: str) -> None:
    done = fleetwatch("user", "add", name, "--group", group, "--password-stdin",
                      "--data-dir", str(data_dir), *store, stdin=password + "\n",
                      module="fleetwatch.cli_admin")  # fmt: skip
    assert done.returncode == 0, done.stderr


def add_service(data_dir: Path, host: str, service: str, *args: str) -> None:
    done = fleetwatch("service", "add", host, service, *args, "--data-dir", str(data_dir))
    assert done.returncode == 0, done.stderr


def status(url: str, path: str, user: str = USER, password: str = PASSWORD) -> dict[str, object]:
    response = httpx.get(f"{url}/api/status/{path}", auth=(user, password), verify=False)
    assert response.status_code == 200, response.text
    body: dict[str, object] = response.json()
    return body


@pytest.fixture(scope="module")
def hub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    data = tmp_path_factory.mktemp("checks")
    certfile, keyfile = self_signed(data)
    add_user(data, USER, PASSWORD, "status_update")
    add_user(data, "viewer", "viewer-pw", "readonly")
    add_service(data, "example_host_1", "Example service")
    add_service(data, _hostname_f(), "Example service")
    with ServeProcess(data, "--refresh", "5", "--certfile", str(certfile),
                      "--keyfile", str(keyfile)) as proc:  # fmt: skip
        yield proc


def _hostname_f() -> str:
    return subprocess.run(["hostname", "-f"], capture_output=True, text=True,
                          check=True).stdout.strip()  # fmt: skip


def test_the_reference_curl_command(hub: ServeProcess) -> None:
    done = subprocess.run(["bash", "-c", CURL % hub.url], capture_output=True, text=True,
                          timeout=20, check=False)  # fmt: skip
    assert done.stdout == '{"result":"Successfully submitted PROCESS_SERVICE_CHECK_RESULT"}'
    got = status(hub.url, "service/example_host_1;Example service")
    assert got["state"] == 2
    assert got["plugin_output"] == "Example issue has occurred"
    # The read-only user may look but not submit.
    done = subprocess.run(["bash", "-c", CURL.replace("status_update:mysecret", "viewer:viewer-pw")
                           % hub.url], capture_output=True, text=True, timeout=20,
                          check=False)  # fmt: skip
    assert json.loads(done.stdout) == {"error": "Forbidden",
                                       "full_error": "Missing permission: api-command"}  # fmt: skip


def test_the_reference_backup_script(hub: ServeProcess, tmp_path: Path) -> None:
    script = tmp_path / "backup.sh"
    port = hub.url.rsplit(":", 1)[1]
    script.write_text(BACKUP_SCRIPT.replace('"monitorserver"', f'"127.0.0.1:{port}"')
                      .replace('"my_secret"', f'"{PASSWORD}"'))  # fmt: skip
    (tmp_path / "source").mkdir()
    (tmp_path / "source" / "data.txt").write_text("precious")
    env = {**os.environ, "BACKUPS": str(tmp_path / "backups"), "SOURCE": str(tmp_path / "source"),
           "FLEETWATCH": f"{sys.executable} -m fleetwatch"}  # fmt: skip
    done = subprocess.run(["bash", str(script)], capture_output=True, text=True, env=env,
                          timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert "Status update successful" in done.stdout
    got = status(hub.url, f"service/{_hostname_f()};Example service")
    assert got["state"] == 0
    assert str(got["plugin_output"]).startswith("Backup for ")
    # The copy fails: the script reports CRITICAL, and the hub has it.
    env["SOURCE"] = str(tmp_path / "missing")
    done = subprocess.run(["bash", str(script)], capture_output=True, text=True, env=env,
                          timeout=60, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    assert status(hub.url, f"service/{_hostname_f()};Example service")["state"] == 2
    # A wrong password: the script's "Status update failed" branch, exit 2.
    script.write_text(script.read_text().replace(f'"{PASSWORD}"', '"wrong"'))
    done = subprocess.run(["bash", str(script)], capture_output=True, text=True, env=env,
                          timeout=60, check=False)  # fmt: skip
    assert done.returncode == 2
    assert "Status update failed" in done.stdout
    assert "bad credentials" in done.stderr


def test_report_says_why(hub: ServeProcess) -> None:
    base = ("report", "-M", hub.url, "-u", USER, "-H", "example_host_1", "--insecure")
    done = fleetwatch(*base, "-S", "Example service", "-s", "WARNING", "-m", "slow | t=3s",
                      env={"FLEETWATCH_PASSWORD": PASSWORD})  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""
    assert status(hub.url, "service/example_host_1;Example service")["perf_data"] == "t=3s"
    done = fleetwatch(*base, "-p", PASSWORD, "-S", "No such service", "-s", "OK")
    assert done.returncode == 2
    assert "No such service" in done.stderr
    assert "400" in done.stderr
    done = fleetwatch(*base, "-p", PASSWORD, "-s", "DOWN")  # a host result
    assert done.returncode == 2
    assert "host-edit-all" in done.stderr  # status_update may not change hosts
    done = fleetwatch(*base, "-p", PASSWORD, "-S", "Example service", "-s", "OK",
                      "--timeout", "2")  # fmt: skip
    assert done.returncode == 0
    unreachable = ("report", "-M", "127.0.0.1:1", "-u", USER, "-p", PASSWORD, "-H", "h",
                   "-s", "OK")  # fmt: skip
    done = fleetwatch(*unreachable)
    assert done.returncode == 2
    assert "cannot reach the hub" in done.stderr
    done = fleetwatch(*base, "-S", "Example service", "-s", "OK", "-p", PASSWORD, "--insecure")
    assert done.returncode == 0
    no_tls_check = ("report", "-M", hub.url, "-u", USER, "-p", PASSWORD, "-H", "example_host_1",
                    "-S", "Example service", "-s", "OK")  # fmt: skip
    done = fleetwatch(*no_tls_check)  # a self-signed certificate without --insecure
    assert done.returncode == 2
    assert "certificate" in done.stderr.lower()


def test_freshness_on_the_wall_clock_across_a_restart(tmp_path: Path) -> None:
    add_user(tmp_path, USER, PASSWORD, "status_update")
    add_service(tmp_path, "h", "quick", "--freshness", "2")
    add_service(tmp_path, "h", "later", "--freshness", "3")
    body = {"host_name": "h", "status_code": 0, "plugin_output": "done"}
    with ServeProcess(tmp_path, "--refresh", "5") as proc:
        for service in ("quick", "later"):
            response = httpx.post(f"{proc.url}/api/command/PROCESS_SERVICE_CHECK_RESULT",
                                  json={**body, "service_description": service},
                                  auth=(USER, PASSWORD))  # fmt: skip
            assert response.status_code == 200
        last_check = float(str(status(proc.url, "service/h;quick")["last_check"]))
        got = _wait_for_state(proc.url, "service/h;quick", 2, timeout=8)
        seen_at = time.time()
        assert got["is_stale"] == 1
        assert str(got["plugin_output"]).startswith("CRITICAL: no result for ")
        assert str(got["plugin_output"]).endswith(" s (threshold 2 s)")
        assert seen_at - (last_check + 2) < 2.5  # whole seconds in the API; exact below
    # "later" falls due while the hub is down: marked stale as soon as it is back.
    time.sleep(max(0.0, last_check + 4.5 - time.time()))
    with ServeProcess(tmp_path, "--refresh", "5") as proc:
        got = _wait_for_state(proc.url, "service/h;later", 2, timeout=3)
        assert got["is_stale"] == 1
        assert status(proc.url, "service/h;quick")["is_stale"] == 1
    results = asyncio.run(_sources(tmp_path, "h", "quick"))
    # The deadline runs from the declaration, so a hub slower than 2 s to start has already
    # marked the first silence (before any result) once; only that may precede the result.
    first_result = [source for source, _ in results].index("passive")
    assert [source for source, _ in results[first_result + 1 :]] in ([], ["stale"])
    results = results[: first_result + 1]
    assert [source for source, _ in results] == ["stale", "passive"]  # once per silence
    (_, stale_at), (_, passive_at) = results
    assert 2.0 <= stale_at - passive_at < 3.0  # at most a second late


def _wait_for_state(url: str, path: str, state: int, timeout: float) -> dict[str, object]:
    deadline = time.monotonic() + timeout
    while True:
        got = status(url, path)
        if got["state"] == state or time.monotonic() > deadline:
            assert got["state"] == state, got
            return got
        time.sleep(0.1)


async def _sources(data_dir: Path, host: str, service: str) -> list[tuple[str, float]]:
    store = open_store(f"sqlite:///{data_dir / 'fleetwatch.sqlite3'}")
    await store.open()
    try:
        obj = await store.get_check_object(host, service)
        assert obj is not None
        return [(r.source, r.checked_at) for r in await store.check_results(obj.id)]
    finally:
        await store.close()


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_kill_9_right_after_acknowledged_results(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    url = f"sqlite:///{tmp_path / 'fleetwatch.sqlite3'}"
    store_args: tuple[str, ...] = ()
    if backend == "postgres":
        url = request.getfixturevalue("postgres_url")
        store_args = ("--database", url)
    add_user(tmp_path, USER, PASSWORD, "status_update", *store_args)
    add_service(tmp_path, "h", "s", *store_args)
    proc = ServeProcess(tmp_path, "--refresh", "5", *store_args)
    proc.start()
    try:
        acknowledged = asyncio.run(_submit_many(proc.url, 300))
    finally:
        assert proc.stop(signal.SIGKILL) == -signal.SIGKILL
    assert len(acknowledged) == 300
    outputs = asyncio.run(_outputs(url))
    assert set(acknowledged) <= set(outputs)


async def _submit_many(url: str, count: int) -> list[str]:
    async with httpx.AsyncClient(base_url=url, auth=(USER, PASSWORD), timeout=30) as client:

        async def one(i: int) -> str | None:
            body = {"host_name": "h", "service_description": "s", "status_code": i % 4,
                    "plugin_output": f"result {i} | n={i}"}  # fmt: skip
            response = await client.post("/api/command/PROCESS_SERVICE_CHECK_RESULT", json=body)
            return f"result {i}" if response.status_code == 200 else None

        done = await asyncio.gather(*(one(i) for i in range(count)))
    return [output for output in done if output is not None]


async def _outputs(url: str) -> list[str]:
    store = open_store(url)
    await store.open()
    try:
        obj = await store.get_check_object("h", "s")
        assert obj is not None
        return [r.output for r in await store.check_results(obj.id, limit=10_000)]
    finally:
        await store.close()
