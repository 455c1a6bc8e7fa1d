"""Hosts and services declared in the TOML config: parsed key by key, applied at start
(created or changed, never deleted), on both backends and through a real ``fleetwatch serve
--config``."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest
from serving import ServeProcess, run_cli

from fleetwatch.config import ConfigError, load_config
from fleetwatch.config_checks import DECLARED_KEYS, DeclaredObject
from fleetwatch.engine.checks import CheckService
from fleetwatch.engine.declared import apply_declared
from fleetwatch.store import Store

CONFIG = """
[checks]
auto_create = true

[[checks.hosts]]
host_name = "backup01"
notes = "the backup box"

[[checks.services]]
host_name = "backup01"
service_description = "Nightly backup"
freshness_threshold = 90000
max_check_attempts = 2
stale_state = "WARNING"
stale_output = "no backup report"

[[checks.services]]
host_name = "db01"
service_description = "dump"
"""


def _load(tmp_path: Path, text: str) -> tuple[DeclaredObject, ...]:
    path = tmp_path / "fleetwatch.toml"
    path.write_text(text)
    return load_config(path, env={}).check_objects


def test_declared_objects_are_read_with_the_other_checks_settings(tmp_path: Path) -> None:
    path = tmp_path / "fleetwatch.toml"
    path.write_text(CONFIG)
    config = load_config(path, env={})
    assert config.get("checks", "auto_create") is True
    assert config.check_objects == (
        DeclaredObject("host", "backup01", notes="the backup box"),
        DeclaredObject("service", "backup01", "Nightly backup", freshness_threshold=90000.0,
                       max_check_attempts=2, stale_state=1, stale_output="no backup report"),
        DeclaredObject("service", "db01", "dump"),
    )  # fmt: skip
    assert load_config(None, env={}).check_objects == ()


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('[[checks.services]]\nhost_name = "h"\nservice_description = "s"\nfreshnes = 60',
         "checks.services[1]: unknown key 'freshnes'"),
        ('[[checks.hosts]]\nhost_name = "a"\n[[checks.hosts]]\nname = "b"',
         "checks.hosts[2]: unknown key 'name'"),
        ('[[checks.services]]\nhost_name = "h"',
         "checks.services[1]: service_description is required"),
        ('[[checks.hosts]]\nnotes = "x"', "checks.hosts[1]: host_name is required"),
        ('[[checks.hosts]]\nhost_name = ""', "checks.hosts[1]: host_name must be a non-empty"),
        ('[[checks.hosts]]\nhost_name = "h"\nservice_description = "s"',
         "checks.hosts[1]: unknown key 'service_description'"),
        ('[[checks.services]]\nhost_name = "h"\nservice_description = "s"\n'
         'freshness_threshold = -5', "freshness_threshold must be a positive number of seconds"),
        ('[[checks.services]]\nhost_name = "h"\nservice_description = "s"\n'
         'freshness_threshold = "1h"', "freshness_threshold must be a positive number"),
        ('[[checks.services]]\nhost_name = "h"\nservice_description = "s"\n'
         "max_check_attempts = 0", "max_check_attempts must be an integer of at least 1"),
        ('[[checks.services]]\nhost_name = "h"\nservice_description = "s"\n'
         'stale_state = "DOWN"', "stale_state must be one of OK, WARNING, CRITICAL, UNKNOWN"),
        ('[[checks.hosts]]\nhost_name = "h"\nstale_state = 3',
         "stale_state must be one of UP, DOWN, UNREACHABLE"),
        ('[checks]\nservices = "web"', "checks.services must be an array of tables"),
        ('[[checks.hosts]]\nhost_name = "h"\n[[checks.hosts]]\nhost_name = "h"',
         "checks.hosts[2]: h is declared twice"),
    ],
)  # fmt: skip
def test_a_bad_declaration_stops_the_start_with_one_line(
    tmp_path: Path, text: str, message: str
) -> None:
    with pytest.raises(ConfigError) as caught:
        _load(tmp_path, text)
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)
    assert str(tmp_path / "fleetwatch.toml") in str(caught.value)


async def test_declared_objects_are_upserted_and_never_deleted(store: Store) -> None:
    declared = [
        DeclaredObject("service", "web", "https", freshness_threshold=60.0, max_check_attempts=3),
        DeclaredObject("host", "db", stale_state=2, notes="primary"),
    ]
    assert await apply_declared(store, declared) == (3, 0)  # web is implied by its service
    web = await store.get_check_object("web")
    https = await store.get_check_object("web", "https")
    db = await store.get_check_object("db")
    assert web is not None
    assert https is not None
    assert db is not None
    assert (https.check_freshness, https.freshness_threshold, https.max_check_attempts,
            https.stale_state) == (True, 60.0, 3, 2)  # fmt: skip
    assert (db.stale_state, db.notes) == (2, "primary")
    await store.add_check_object("service", "web", "ssh")  # made by hand, not in the config

    # A result, then the same config again: nothing is written, the state stays.
    checks = CheckService(store)
    await checks.prepare()
    await checks.process_result("web", "https", 2, "down", now=time.time())
    before = await store.get_check_object("web", "https")
    assert before is not None
    assert await apply_declared(store, declared) == (0, 0)
    assert await store.get_check_object("web", "https") == before

    # A changed declaration changes the configuration and keeps state and history.
    changed = [DeclaredObject("service", "web", "https", freshness_threshold=120.0,
                              stale_output="silent")]  # fmt: skip
    assert await apply_declared(store, changed) == (0, 1)
    after = await store.get_check_object("web", "https")
    assert after is not None
    assert before.last_check is not None
    assert (after.freshness_threshold, after.max_check_attempts, after.stale_output) == (
        120.0, 1, "silent")  # fmt: skip
    assert (after.state, after.attempt, after.output) == (before.state, before.attempt, "down")
    assert after.fresh_due_at == pytest.approx(before.last_check + 120.0)
    assert len(await store.check_results(after.id)) == 1

    # Freshness off: no deadline. Objects left out of the config are all still there.
    assert await apply_declared(store, [DeclaredObject("service", "web", "https")]) == (0, 1)
    off = await store.get_check_object("web", "https")
    assert off is not None
    assert not off.check_freshness
    assert off.fresh_due_at is None
    names = {(o.host_name, o.service_description) for o in await store.list_check_objects()}
    assert names == {("web", ""), ("web", "https"), ("web", "ssh"), ("db", "")}


def test_a_real_hub_applies_its_config_at_start(tmp_path: Path) -> None:
    config = tmp_path / "fleetwatch.toml"
    config.write_text(
        '[[checks.services]]\nhost_name = "backup01"\nservice_description = "Nightly backup"\n'
        "freshness_threshold = 2\n"
    )
    done = run_cli("user", "add", "viewer", "--group", "readonly", "--password-stdin",
                   "--data-dir", str(tmp_path), stdin="viewer password\n",
                   module="fleetwatch.cli_admin")  # fmt: skip
    assert done.returncode == 0, done.stderr
    path = "/api/status/service/backup01;Nightly backup"
    auth = ("viewer", "viewer password")
    with ServeProcess(tmp_path, "--config", str(config), "--refresh", "5") as proc:
        got = httpx.get(proc.url + path, auth=auth).json()
        assert (got["check_freshness"], got["freshness_threshold"]) == (1, 2.0)
        # Declared with a 2 s threshold and never reported: stale without anyone asking.
        deadline = time.monotonic() + 8
        while got["is_stale"] != 1 and time.monotonic() < deadline:
            time.sleep(0.1)
            got = httpx.get(proc.url + path, auth=auth).json()
        assert (got["is_stale"], got["state"]) == (1, 2)
    config.write_text(
        '[[checks.services]]\nhost_name = "backup01"\nservice_description = "Nightly backup"\n'
        'freshness_threshold = 3600\nnotes = "cron, 01:00"\n'
    )
    with ServeProcess(tmp_path, "--config", str(config), "--refresh", "5") as proc:
        got = httpx.get(proc.url + path, auth=auth).json()
        assert (got["freshness_threshold"], got["notes"]) == (3600.0, "cron, 01:00")
        assert (got["is_stale"], got["state"]) == (1, 2)  # its state stays
    listed = run_cli("service", "list", "--data-dir", str(tmp_path))
    assert "Nightly backup" in listed.stdout


def test_the_readme_documents_every_declared_key() -> None:
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    assert "[[checks.hosts]]" in readme
    assert "[[checks.services]]" in readme
    for keys in DECLARED_KEYS.values():
        for key in keys:
            assert f"`{key}`" in readme, key
