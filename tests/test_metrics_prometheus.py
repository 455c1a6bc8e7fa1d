"""A real Prometheus server scrapes a real ``fleetwatch serve`` and answers PromQL about it."""

from __future__ import annotations

import os
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from serving import ServeProcess, run_cli
from test_ingest_submit_stats import SCRIPT_DATA
from test_push_e2e import free_port

pytestmark = pytest.mark.e2e

PROMETHEUS = shutil.which("prometheus")
if PROMETHEUS is None and os.environ.get("CI") != "true":
    pytest.skip("prometheus missing: scripts/ensure_prometheus.sh installs it",
                allow_module_level=True)  # fmt: skip

CONFIG = """\
global:
  scrape_interval: 1s
  scrape_timeout: 1s
scrape_configs:
  - job_name: fleetwatch
    metrics_path: /metrics
    basic_auth:
      username: prometheus
      password_file: {password_file}
    static_configs:
      - targets: ["{target}"]
"""


@pytest.fixture
def prometheus(tmp_path: Path) -> Iterator[tuple[ServeProcess, str]]:
    """The hub with a pushed system and a ``readonly`` user, and Prometheus scraping it."""
    data = tmp_path / "hub"
    with ServeProcess(data) as hub:
        db = ["--data-dir", str(data)]
        token = run_cli("system", "add", "web1", *db).stdout.strip()
        added = run_cli("user", "add", "prometheus", "--group", "readonly", "--password-stdin",
                        *db, stdin="scrape password\n")  # fmt: skip
        assert added.returncode == 0, added.stderr
        pushed = httpx.put(f"{hub.url}/api/external/submit_stats", content=SCRIPT_DATA,
                           auth=("", token), timeout=10)  # fmt: skip
        assert pushed.status_code == 200, pushed.text
        (tmp_path / "password").write_text("scrape password")
        config = CONFIG.format(password_file=tmp_path / "password",
                               target=hub.url.removeprefix("http://"))  # fmt: skip
        (tmp_path / "prometheus.yml").write_text(config)
        port = free_port()
        assert PROMETHEUS is not None
        server = subprocess.Popen(
            [PROMETHEUS, f"--config.file={tmp_path / 'prometheus.yml'}",
             f"--storage.tsdb.path={tmp_path / 'tsdb'}",
             f"--web.listen-address=127.0.0.1:{port}"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
        )  # fmt: skip
        try:
            yield hub, f"http://127.0.0.1:{port}"
        finally:
            server.terminate()
            try:
                server.wait(20)
            except subprocess.TimeoutExpired:
                server.kill()
                server.wait()


def query(base: str, promql: str, timeout: float = 60.0) -> list[dict[str, Any]]:
    """Poll Prometheus' HTTP API until ``promql`` has a result (it needs a scrape or two)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            answer = httpx.get(f"{base}/api/v1/query", params={"query": promql}, timeout=5)
        except httpx.TransportError:
            answer = None  # still starting
        if answer is not None and answer.status_code == 200:
            result: list[dict[str, Any]] = answer.json()["data"]["result"]
            if result:
                return result
        time.sleep(0.2)  # a poll interval, not a wait for a guessed duration
    raise AssertionError(f"no result for {promql} within {timeout} s")


def test_prometheus_scrapes_the_hub_and_answers_promql(
    prometheus: tuple[ServeProcess, str],
) -> None:
    _, base = prometheus
    [scraped] = query(base, 'up{job="fleetwatch"} == 1')
    assert scraped["value"][1] == "1"
    [cpu] = query(base, 'fleetwatch_cpu_usage_ratio{system="web1"}')
    assert cpu["metric"]["hostname"] == "TESTHOST"
    assert float(cpu["value"][1]) == pytest.approx(0.6)
    [up] = query(base, 'fleetwatch_system_up{system="web1"}')
    assert up["value"][1] == "1"
