"""The identity CLI end to end, next to a running hub; HTTPS with a self-signed certificate."""

from __future__ import annotations

import base64
import ssl
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from click.testing import CliRunner, Result
from serving import ServeProcess, run_cli

from fleetwatch.cli import main
from fleetwatch.tls import self_signed

pytestmark = pytest.mark.e2e

ADMIN_MODULE = "fleetwatch"


def cli(data_dir: Path, *args: str, stdin: str | None = None) -> tuple[int, str, str]:
    done = run_cli(*args, "--data-dir", str(data_dir), stdin=stdin, module=ADMIN_MODULE)
    return done.returncode, done.stdout, done.stderr


def basic(user: str, password: str) -> dict[str, str]:
    return {"authorization": "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()}


@pytest.fixture(scope="module")
def running(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ServeProcess]:
    with ServeProcess(tmp_path_factory.mktemp("cli"), "--refresh", "5") as proc:
        yield proc


def test_users_and_tokens_made_while_the_hub_runs(running: ServeProcess) -> None:
    data = running.data_dir
    code, out, err = cli(data, "user", "add", "alice", "--group", "admin", "--password-stdin",
                         stdin="alice password\n")  # fmt: skip
    assert (code, out) == (0, ""), err
    code, out, _ = cli(data, "user", "list")
    assert code == 0
    assert "alice" in out
    assert "admin" in out
    with httpx.Client(base_url=running.url) as web:
        me = web.get("/api/v1/me", headers=basic("alice", "alice password"))
        assert me.status_code == 200
        assert me.json()["username"] == "alice"

        code, token, err = cli(data, "user", "token", "alice")
        assert code == 0, err
        bearer = {"authorization": f"Bearer {token.strip()}"}
        assert web.get("/api/v1/users.list", headers=bearer).status_code == 200

        code, _, err = cli(data, "user", "passwd", "alice", "--password-stdin",
                           stdin="another password\n")  # fmt: skip
        assert code == 0, err
        assert web.get("/api/v1/me", headers=basic("alice", "another password")).status_code == 200

        code, _, err = cli(data, "user", "add", "bob", "--group", "nope", "--password-stdin",
                           stdin="bobs password\n")  # fmt: skip
        assert code == 1
        assert err == "fleetwatch: error: no group named 'nope'\n"


def test_system_tokens_from_the_cli(running: ServeProcess) -> None:
    data = running.data_dir
    code, out, err = cli(data, "system", "add", "web1")
    assert code == 0, err
    token = out.strip()
    assert out == token + "\n"
    assert token.startswith("fws_")
    code, second, _ = cli(data, "system", "token", "web1", "--name", "backup")
    assert code == 0
    assert cli(data, "system", "revoke", "web1", "backup")[0] == 0
    code, out, _ = cli(data, "system", "list")
    assert "web1" in out
    assert "default:" + token[:12] in out
    assert token not in out
    with httpx.Client(base_url=running.url) as web:
        me = web.get("/api/v1/me", headers=basic("", token)).json()
        assert me["username"] == "web1"
        assert web.get("/api/v1/me", headers=basic("", second.strip())).status_code == 401
    code, _, err = cli(data, "system", "add", "web1")
    assert code == 1
    assert err == "fleetwatch: error: system 'web1' already exists\n"
    code, _, err = cli(data, "system", "revoke", "web1", "backup")
    assert code == 1
    assert err.count("\n") == 1
    files = b"".join(path.read_bytes() for path in data.iterdir() if path.is_file())
    assert token.encode() not in files
    assert cli(data, "system", "remove", "web1")[0] == 0
    with httpx.Client(base_url=running.url) as web:
        # The hub notices the CLI's change within a second and drops its cached credential.
        deadline = time.monotonic() + 10
        while web.get("/api/v1/me", headers=basic("", token)).status_code != 401:
            assert time.monotonic() < deadline, "the removed system's token still works"
            time.sleep(0.05)


def test_groups_from_the_cli(tmp_path: Path) -> None:
    """In process (click's runner) for speed; the commands are the same as above."""
    runner = CliRunner()

    def run(*args: str) -> Result:
        return runner.invoke(main, [*args, "--data-dir", str(tmp_path)])

    assert run("group", "add", "ops", "--permission", "view-events").exit_code == 0
    assert run("group", "grant", "ops", "clear-events").exit_code == 0
    assert run("group", "revoke", "ops", "view-events").exit_code == 0
    listed = run("group", "list")
    assert listed.exit_code == 0
    ops = next(line for line in listed.stdout.splitlines() if line.startswith("ops"))
    assert "clear-events" in ops
    assert "view-events" not in ops
    bad = run("group", "grant", "ops", "fly")
    assert bad.exit_code == 1
    assert bad.stderr.startswith("fleetwatch: error: unknown permission 'fly'")
    builtin = run("group", "grant", "admin", "view-events")
    assert builtin.exit_code == 1
    assert "built-in" in builtin.stderr
    assert run("user", "remove", "nobody").stderr == "fleetwatch: error: no user named 'nobody'\n"


def test_serve_self_signed_makes_and_reuses_its_certificate(tmp_path: Path) -> None:
    with ServeProcess(tmp_path, "--self-signed") as hub:
        assert hub.url.startswith("https://")
        certfile = tmp_path / "tls" / "cert.pem"
        trust = ssl.create_default_context(cafile=str(certfile))
        with httpx.Client(base_url=hub.url, verify=trust) as web:
            assert web.get("/api/4/status").status_code == 200
    made = certfile.read_bytes()
    assert self_signed(tmp_path) == (certfile, tmp_path / "tls" / "key.pem")
    assert certfile.read_bytes() == made
    assert (tmp_path / "tls" / "key.pem").stat().st_mode & 0o077 == 0
    refused = run_cli("serve", "--self-signed", "--certfile", str(certfile), "--data-dir",
                      str(tmp_path))  # fmt: skip
    assert refused.returncode == 1
    assert refused.stderr.strip().endswith(
        "--self-signed makes its own certificate: drop --certfile"
    )
