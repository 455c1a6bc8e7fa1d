"""A real ``fleetwatch serve`` process over loopback: figures against the OS, TLS, signals."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from urllib.parse import urlsplit

import httpx
import pytest
import trustme
from glances_api import Glances
from serving import ServeProcess, run_cli

pytestmark = pytest.mark.e2e


def meminfo_total() -> int:
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            return int(line.split()[1]) * 1024
    raise AssertionError("no MemTotal")


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    with ServeProcess(tmp_path_factory.mktemp("serve"), "--refresh", "1") as proc:
        yield proc


def test_figures_match_the_operating_system(server: ServeProcess) -> None:
    with httpx.Client(base_url=server.url) as c:
        assert c.get("/api/4/mem/total").json() == {"total": meminfo_total()}
        assert c.get("/api/4/core/log").json() == {"log": os.cpu_count()}
        assert c.get("/api/4/system/hostname").json() == {"hostname": socket.gethostname()}
        load = c.get("/api/4/load").json()
        assert abs(load["min15"] - os.getloadavg()[2]) < 0.5
        assert load["cpucore"] == os.cpu_count()
        fs = {f["mnt_point"]: f for f in c.get("/api/4/fs").json()}
        st = os.statvfs("/")
        assert fs["/"]["size"] == st.f_blocks * st.f_frsize
        mine = c.get(f"/api/4/processes/{server.proc.pid if server.proc else 0}").json()
        assert "fleetwatch" in " ".join(mine["cmdline"])


def test_every_reference_curl_works(server: ServeProcess) -> None:
    """The request forms of glances-restful-api-v4.rst, with this machine's own values."""
    with httpx.Client(base_url=server.url) as c:
        assert c.head("/api/4/status").status_code == 200
        disk = c.get("/api/4/diskio/disk_name").json()["disk_name"][0]
        nic = c.get("/api/4/network/interface_name").json()["interface_name"][0]
        label_free = [
            "/api/4/pluginslist", "/api/4/alert", "/api/4/amps", "/api/4/cloud",
            "/api/4/connections", "/api/4/connections/net_connections_enabled",
            "/api/4/containers", "/api/4/core", "/api/4/core/phys", "/api/4/cpu",
            "/api/4/cpu/total", "/api/4/diskio", "/api/4/diskio/disk_name",
            f"/api/4/diskio/disk_name/value/{disk}", "/api/4/folders", "/api/4/fs",
            "/api/4/fs/mnt_point", "/api/4/fs/mnt_point/value//", "/api/4/gpu", "/api/4/help",
            "/api/4/ip", "/api/4/irq", "/api/4/load", "/api/4/load/min1", "/api/4/mem",
            "/api/4/mem/total", "/api/4/memswap", "/api/4/memswap/total", "/api/4/network",
            "/api/4/network/interface_name", f"/api/4/network/interface_name/value/{nic}",
            "/api/4/now", "/api/4/now/iso", "/api/4/percpu", "/api/4/percpu/cpu_number",
            "/api/4/ports", "/api/4/processcount", "/api/4/processcount/total",
            "/api/4/processlist", "/api/4/programlist", "/api/4/psutilversion",
            "/api/4/quicklook", "/api/4/quicklook/cpu_name", "/api/4/raid", "/api/4/sensors",
            "/api/4/smart", "/api/4/system", "/api/4/system/os_name", "/api/4/uptime",
            "/api/4/version", "/api/4/vms", "/api/4/wifi", "/api/4/all",
            f"/api/4/processes/{os.getpid()}", "/api/4/processlist/top/2",
            "/api/4/diskio/read_bytes/description", "/api/4/diskio/read_bytes/unit",
            "/api/4/cpu/history", "/api/4/cpu/history/2", "/api/4/cpu/system/history",
            "/api/4/cpu/system/history/2", "/api/4/all/limits", "/api/4/cpu/limits",
        ]  # fmt: skip
        for path in label_free:
            response = c.get(path)
            assert response.status_code == 200, (path, response.text)
            response.json()
        for path in ("/api/4/events/clear/all", "/api/4/events/clear/warning"):
            assert c.post(path, headers={"content-type": "application/json"}).status_code == 200
        assert c.post(f"/api/4/processes/extended/{os.getpid()}").status_code == 200


def test_cpu_is_right_on_the_first_request_and_under_concurrency(tmp_path: Path) -> None:
    """Glances 4.5.8 answered total 0.0 here: psutil keeps per-thread CPU baselines."""
    stop = threading.Event()

    def burn() -> None:
        while not stop.is_set():
            sum(range(10_000))

    burner = threading.Thread(target=burn, daemon=True)
    burner.start()
    try:
        with ServeProcess(tmp_path) as proc, httpx.Client(base_url=proc.url) as c:
            first = c.get("/api/4/cpu").json()
            assert first["total"] > 10.0, first

            def get_total(_: int) -> float:
                return float(httpx.get(proc.url + "/api/4/cpu/total").json()["total"])

            with ThreadPoolExecutor(8) as pool:
                totals = list(pool.map(get_total, range(32)))
            assert min(totals) > 10.0, totals
    finally:
        stop.set()
        burner.join()


def test_status_answers_quickly_after_start(tmp_path: Path) -> None:
    proc = ServeProcess(tmp_path)
    proc.start()
    try:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                if httpx.get(proc.url + "/api/4/status").status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.01)
        elapsed = time.monotonic() - proc.started_at
        # The bench measures the 1.5 s target; here a loose bound that a loaded CI keeps.
        assert elapsed < 6.0
    finally:
        assert proc.stop() == 0


@pytest.mark.parametrize("sig", [signal.SIGTERM, signal.SIGINT])
def test_clean_shutdown_on_signals(tmp_path: Path, sig: int) -> None:
    proc = ServeProcess(tmp_path)
    proc.start()
    assert httpx.get(proc.url + "/api/4/cpu").status_code == 200
    started = time.monotonic()
    assert proc.stop(sig) == 0
    assert time.monotonic() - started < 8
    assert not any("Traceback" in line for line in proc.log), proc.log


def test_url_prefix(tmp_path: Path) -> None:
    with ServeProcess(tmp_path, "--url-prefix", "/glances/") as proc:
        base = proc.url.rstrip("/")
        assert base.endswith("/glances")
        root = base.removesuffix("/glances")
        assert httpx.get(root + "/glances/api/4/cpu").status_code == 200
        assert httpx.get(root + "/api/4/cpu").status_code == 404


def test_https_with_a_certificate_made_here(tmp_path: Path) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1", "localhost")
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(certfile))
    cert.private_key_pem.write_to_path(str(keyfile))
    context = ssl.create_default_context()
    ca.configure_trust(context)
    with ServeProcess(
        tmp_path / "data", "--certfile", str(certfile), "--keyfile", str(keyfile)
    ) as proc:
        assert proc.url.startswith("https://")
        with httpx.Client(verify=context) as c:
            assert c.get(proc.url + "/api/4/mem").json()["total"] == meminfo_total()
        with pytest.raises(httpx.ConnectError):
            httpx.get(proc.url + "/api/4/mem")  # untrusted without the test CA


@pytest.mark.anyio
async def test_glances_api_client_reads_the_hub(server: ServeProcess) -> None:
    """Home Assistant's client library, in its v4 mode, reads us as if we were Glances."""
    parts = urlsplit(server.url)
    client = Glances(host=parts.hostname or "", port=parts.port or 0, version=4)
    data = await client.get_ha_sensor_data()
    assert data["mem"]["memory_use_percent"] > 0
    assert "/" in data["fs"]
    assert data["load"]["processor_load_1m"] is not None
    assert data["processcount"]["process_total"] > 0
    assert set(data["percpu"]) == {str(n) for n in range(os.cpu_count() or 1)}
    assert data["uptime"]
    for disk in data.get("diskio", {}).values():
        assert disk["read"] >= 0


def test_busy_port_is_one_clear_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("serve", "--port", str(port), "--data-dir", str(tmp_path))
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        f"fleetwatch: error: port {port} on 127.0.0.1 is already in use"
    )


def test_bad_config_key_is_one_clear_line(tmp_path: Path) -> None:
    config = tmp_path / "fleetwatch.toml"
    config.write_text("[server]\nportt = 1\n")
    result = run_cli("serve", "--config", str(config), "--data-dir", str(tmp_path))
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert "unknown key 'portt' in section [server]" in last


def test_unusable_data_dir_is_one_clear_line(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("not a directory")
    result = run_cli("serve", "--port", "0", "--data-dir", str(blocker / "sub"))
    assert result.returncode == 1
    assert "data dir" in result.stderr.strip().splitlines()[-1]
