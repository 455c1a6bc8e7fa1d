"""Both HTTP engines over loopback: Granian (the default) and uvicorn (the fallback) serve the
same hub the same way: TLS, a submission acknowledged only once stored, a clean stop."""

from __future__ import annotations

import signal
import ssl
import time
from pathlib import Path

import httpx
import pytest
import trustme
from serving import ServeProcess, run_cli
from test_ingest_submit_stats import SCRIPT_DATA
from test_push_e2e import add_system, snapshots

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize("engine", ["granian", "uvicorn"])
def test_each_engine_serves_tls_accepts_a_submission_and_stops_cleanly(
    tmp_path: Path, engine: str
) -> None:
    ca = trustme.CA()
    cert = ca.issue_cert("127.0.0.1")
    certfile, keyfile = tmp_path / "cert.pem", tmp_path / "key.pem"
    cert.private_key_and_cert_chain_pem.write_to_path(str(certfile))
    cert.private_key_pem.write_to_path(str(keyfile))
    context = ssl.create_default_context()
    ca.configure_trust(context)
    data = tmp_path / "data"
    data.mkdir()
    token = add_system(data, "nas1")
    proc = ServeProcess(data, "--certfile", str(certfile), "--keyfile", str(keyfile),
                        env={"FLEETWATCH_SERVER_HTTP_ENGINE": engine})  # fmt: skip
    proc.start()
    try:
        assert proc.url.startswith("https://")
        with httpx.Client(verify=context, base_url=proc.url) as client:
            assert client.get("/api/4/status").status_code == 200
            hook = "/api/external/submit_stats"
            answer = client.put(hook, content=SCRIPT_DATA, auth=("", token))
            assert answer.status_code == 200
            assert answer.json() == {"result": "success"}
            assert client.get(hook, auth=("", token)).status_code == 405  # the site's answer
            refused = client.put(hook, content=b'{"hostname": 5}', auth=("", token))
            assert refused.status_code == 400
            assert refused.json()["error"] == "hostname must be a string"
            # TLS 1.2 clients (older NAS agents) are served too.
            old = ssl.create_default_context()
            ca.configure_trust(old)
            old.maximum_version = ssl.TLSVersion.TLSv1_2
            with httpx.Client(verify=old, base_url=proc.url) as legacy:
                assert legacy.get("/api/4/status").status_code == 200
        started = time.monotonic()
        assert proc.stop(signal.SIGTERM) == 0
        assert time.monotonic() - started < 8
    finally:
        proc.stop()
    assert not any("Traceback" in line for line in proc.log), proc.log
    assert [s.document["hostname"] for s in snapshots(data, "nas1")] == ["TESTHOST"]


def test_an_unknown_engine_is_one_clear_line(tmp_path: Path) -> None:
    result = run_cli("serve", "--port", "0", "--data-dir", str(tmp_path),
                     env={"FLEETWATCH_SERVER_HTTP_ENGINE": "gunicorn"})  # fmt: skip
    assert result.returncode == 1
    assert result.stderr.strip().splitlines()[-1] == (
        "fleetwatch: error: server.http_engine must be one of granian, uvicorn, not 'gunicorn'"
    )
