"""The first hour of a new user (issue 16, part 3): each rough edge they met, now a behaviour."""

from __future__ import annotations

import re
import tomllib
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from hubs import add_user, client_for, make_hub, started
from serving import ServeProcess, run_cli

from fleetwatch.app import Hub
from fleetwatch.cli import main
from fleetwatch.model.summary import summary_of

pytestmark = pytest.mark.anyio

ROOT = Path(__file__).resolve().parent.parent
README = (ROOT / "README.md").read_text(encoding="utf-8")
CHANGELOG = (ROOT / "CHANGELOG.md").read_text(encoding="utf-8")


# -- README and packaging


def test_the_readme_says_what_exists() -> None:
    assert "being built" not in README
    assert "ahead of the\n  Rocket.Chat-style list endpoints" not in CHANGELOG


def test_the_readme_puts_fleetwatch_on_the_path_before_the_first_cli_example() -> None:
    first_example = re.search(r"^(?:echo .*\| )?fleetwatch \w+", README, re.MULTILINE)
    assert first_example is not None
    before = README[: first_example.start()]
    assert ".venv/bin/fleetwatch" in before
    assert ". .venv/bin/activate" in before


def test_the_readme_says_how_to_install_the_python_examples_clients() -> None:
    assert ".venv/bin/pip install glances-api rocketchat-API" in README


def test_the_readmes_examples_speak_to_make_serve() -> None:
    assert "https://hub:61208" not in README
    assert "curl -s http://127.0.0.1:61208/api/v1/login" in README


def test_apt_installs_leave_out_recommended_packages() -> None:
    for script in ("ensure_chromium.sh", "ensure_prometheus.sh"):
        text = (ROOT / "scripts" / script).read_text()
        assert "--no-install-recommends" in text, script
        assert "DPkg::Lock::Timeout" in text, script


def test_the_license_is_an_spdx_string() -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())
    assert project["project"]["license"] == "MIT"
    assert "setuptools>=77" in project["build-system"]["requires"]


# -- the CLI


def cli(data: Path, *args: str, stdin: str | None = None) -> tuple[int, str]:
    result = CliRunner().invoke(main, [*args, "--data-dir", str(data)], input=stdin)
    return result.exit_code, result.output


def test_token_labels_are_unique_the_same_way_for_users_and_systems(tmp_path: Path) -> None:
    assert cli(tmp_path, "system", "add", "web1")[0] == 0
    code, out = cli(tmp_path, "system", "token", "web1")  # `default` exists: the next one
    assert code == 0, out
    code, out = cli(tmp_path, "system", "list")
    assert "default-2" in out
    code, out = cli(tmp_path, "system", "token", "web1", "--name", "default")
    assert code == 1
    assert "already has a token named 'default'" in out
    assert cli(tmp_path, "user", "add", "ann", "--password-stdin", stdin="ann password\n")[0] == 0
    assert cli(tmp_path, "user", "token", "ann")[0] == 0
    assert cli(tmp_path, "user", "token", "ann")[0] == 0  # personal-2
    code, out = cli(tmp_path, "user", "token", "ann", "--name", "personal-2")
    assert code == 1
    assert "already has a token named 'personal-2'" in out


def test_host_remove_group_remove_and_a_users_groups(tmp_path: Path) -> None:
    assert cli(tmp_path, "host", "add", "web1")[0] == 0
    assert cli(tmp_path, "service", "add", "web1", "disk")[0] == 0
    code, out = cli(tmp_path, "host", "remove", "web1")
    assert code == 0, out
    assert "web1" not in cli(tmp_path, "service", "list")[1]
    assert cli(tmp_path, "host", "remove", "web1")[0] == 1
    assert cli(tmp_path, "group", "add", "ops", "--permission", "view-statistics")[0] == 0
    assert cli(tmp_path, "user", "add", "bob", "--group", "readonly", "--password-stdin",
               stdin="bob password\n")[0] == 0  # fmt: skip
    code, out = cli(tmp_path, "user", "groups", "bob", "--group", "ops", "--group", "admin")
    assert code == 0, out
    users = cli(tmp_path, "user", "list")[1]
    bob = next(line for line in users.splitlines() if line.startswith("bob"))
    assert "ops" in bob
    assert "admin" in bob
    assert "readonly" not in bob
    assert cli(tmp_path, "user", "groups", "bob", "--group", "nope")[0] == 1
    assert cli(tmp_path, "group", "remove", "admin")[0] == 1  # built in
    code, out = cli(tmp_path, "group", "remove", "ops")
    assert code == 0, out
    assert "ops" not in cli(tmp_path, "group", "list")[1]


def test_report_lists_every_state_for_a_bad_one() -> None:
    result = CliRunner().invoke(main, ["report", "-M", "http://127.0.0.1:9", "-u", "u", "-p", "p",
                                       "-H", "web1", "-S", "disk", "-s", "BROKEN"])  # fmt: skip
    assert result.exit_code == 2
    for state in ("OK", "WARNING", "CRITICAL", "UNKNOWN", "UP", "DOWN", "UNREACHABLE"):
        assert state in result.output


@pytest.mark.e2e
def test_report_to_a_plain_http_hub_says_which_m_works(tmp_path: Path) -> None:
    data = tmp_path / "hub"
    with ServeProcess(data) as proc:
        run_cli("service", "add", "web1", "disk", "--data-dir", str(data))
        run_cli("user", "add", "su", "--group", "status_update", "--password-stdin",
                "--data-dir", str(data), stdin="su password\n")  # fmt: skip
        address = proc.url.removeprefix("http://")
        args = ("-u", "su", "-p", "su password", "-H", "web1", "-S", "disk", "-s", "OK", "-m", "ok")
        refused = run_cli("report", "-M", address, *args)
        assert refused.returncode == 2
        [line] = refused.stderr.strip().splitlines()
        assert "plain HTTP" in line
        assert f"-M http://{address}" in line
        assert run_cli("report", "-M", f"http://{address}", *args).returncode == 0


# -- one definition per figure, one meaning per parameter


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[Hub]:
    the_hub = await started(make_hub(tmp_path), rounds=2)
    yield the_hub
    await the_hub.stop()


def test_storage_percent_counts_as_the_file_systems_percent_does() -> None:
    # Reserved blocks are neither used nor free: psutil's percent, and /api/4/fs's, leave them out.
    fs = {"size": 270, "used": 27, "free": 81, "percent": 25.0}
    assert summary_of({"fs": [fs]})["storage_percent"] == 25.0
    assert summary_of({"fs": [{"size": 4096, "used": 1523}]})["storage_percent"] == 37.2


async def test_the_local_machines_storage_percent_agrees_with_api_4_fs(hub: Hub) -> None:
    reader = await add_user(hub, "reader", "reader password", "readonly")
    assert hub.recorder is not None
    await hub.recorder.record()  # the local machine's snapshot, as the hub stores it
    async with client_for(hub) as c:
        filesystems = (await c.get("/api/4/fs")).json()
        systems = (await c.get("/api/v1/systems", headers=reader)).json()["systems"]
    local = next(s for s in systems if s["source"] == "local")
    used = sum(f["used"] for f in filesystems)
    expected = round(100 * used / sum(f["used"] + f["free"] for f in filesystems), 1)
    assert local["current"]["storage_percent"] == pytest.approx(expected, abs=0.1)
    if len(filesystems) == 1:
        assert local["current"]["storage_percent"] == pytest.approx(filesystems[0]["percent"],
                                                                    abs=0.1)  # fmt: skip


async def test_never_checked_objects_are_pending_everywhere(hub: Hub) -> None:
    await hub.store.add_check_object("host", "quiet")
    await hub.store.add_check_object("service", "quiet", "disk")
    reader = await add_user(hub, "reader", "reader password", "readonly")
    async with client_for(hub) as c:
        stats = (await c.get("/api/v1/statistics?refresh=true", headers=reader)).json()
        hosts = (await c.get("/api/v1/hosts.list", headers=reader)).json()["hosts"]
    assert stats["hostsByState"] == {"up": 0, "down": 0, "unreachable": 0, "pending": 1}
    assert stats["servicesByState"]["pending"] == 1
    assert stats["servicesByState"]["ok"] == 0
    [quiet] = hosts
    assert quiet["last_state_change"] is None
    assert quiet["last_check"] is None


async def test_me_gives_created_at_in_iso_8601(hub: Hub) -> None:
    reader = await add_user(hub, "reader", "reader password", "readonly")
    async with client_for(hub) as c:
        me = (await c.get("/api/v1/me", headers=reader)).json()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", me["createdAt"])


async def test_config_masks_secrets_only(tmp_path: Path) -> None:
    the_hub = make_hub(tmp_path)
    async with client_for(the_hub) as c:
        auth = (await c.get("/api/4/config/auth")).json()
    assert auth["login_token_days"] == 90.0


async def test_sort_by_name_works_on_services_too(hub: Hub) -> None:
    await hub.store.add_check_object("host", "web1")
    for name in ("b", "a"):
        await hub.store.add_check_object("service", "web1", name)
    admin = await add_user(hub, "admin", "admin password", "admin")
    async with client_for(hub) as c:
        sort = "state desc,name"
        hosts = await c.get("/api/filter/query", headers=admin,
                            params={"query": "[hosts] all", "sort": sort})  # fmt: skip
        assert hosts.status_code == 200, hosts.text
        services = await c.get("/api/filter/query", headers=admin,
                               params={"query": "[services] all", "sort": sort})  # fmt: skip
    assert [row["description"] for row in services.json()] == ["a", "b"]


async def test_local_history_honours_range_like_a_pushed_system(hub: Hub) -> None:
    assert hub.recorder is not None
    await hub.recorder.record()
    async with client_for(hub) as c:
        bogus = await c.get("/api/4/cpu/total/history?range=bogus")
        ranged = await c.get("/api/4/cpu/total/history?range=1h")
        plain = await c.get("/api/4/cpu/total/history")
    assert bogus.status_code == 400
    assert "range" in bogus.json()["detail"]
    assert ranged.status_code == 200
    assert ranged.headers["x-fleetwatch-resolution"] == "raw"
    assert len(ranged.json()["total"]) >= 1
    assert "x-fleetwatch-resolution" not in plain.headers


async def test_the_api_labels_tokens_by_the_same_rule(hub: Hub) -> None:
    ann = await add_user(hub, "ann", "ann password", "readonly")
    async with client_for(hub) as c:
        url = "/api/v1/users.generatePersonalAccessToken"
        assert (await c.post(url, headers=ann, json={})).status_code == 200
        assert (await c.post(url, headers=ann, json={})).status_code == 200  # personal-2
        again = await c.post(url, headers=ann, json={"tokenName": "personal"})
    assert again.status_code == 409
    assert "already has a token named 'personal'" in again.json()["error"]
    user = await hub.store.get_user("ann")
    assert user is not None
    names = sorted(t.name for t in await hub.store.list_user_tokens(user.id))
    assert names == ["personal", "personal-2"]
