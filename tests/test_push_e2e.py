"""``fleetwatch push`` against a real hub: delivery, spooling while it is down, a bad token."""

from __future__ import annotations

import asyncio
import socket
from pathlib import Path

import pytest
from serving import ServeProcess, run_cli

from fleetwatch.auth.admin import Actor, Admin
from fleetwatch.auth.secrets import PasswordHashing
from fleetwatch.store import SnapshotRecord, open_store

pytestmark = pytest.mark.e2e


def _db(data_dir: Path) -> str:
    return f"sqlite:///{data_dir / 'fleetwatch.sqlite3'}"


def add_system(data_dir: Path, name: str) -> str:
    async def add() -> str:
        store = open_store(_db(data_dir))
        await store.open()
        try:
            return (
                await Admin(store, PasswordHashing()).add_system(Actor("t", "127.0.0.1"), name)
            )[1]
        finally:
            await store.close()

    return asyncio.run(add())


def snapshots(data_dir: Path, name: str) -> list[SnapshotRecord]:
    async def read() -> list[SnapshotRecord]:
        store = open_store(_db(data_dir))
        await store.open()
        try:
            system = await store.get_system(name)
            assert system is not None
            return await store.snapshots(system.id, newest_first=False)
        finally:
            await store.close()

    return asyncio.run(read())


def meminfo_total() -> int:
    text = Path("/proc/meminfo").read_text().split()
    return int(text[text.index("MemTotal:") + 1]) * 1024


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_push_once_delivers_this_machine(tmp_path: Path) -> None:
    data = tmp_path / "hub"
    with ServeProcess(data) as hub:
        token = add_system(data, "web1")
        result = run_cli("push", "--hub", hub.url, "--once", "--spool", str(tmp_path / "spool"),
                         env={"FLEETWATCH_TOKEN": token})  # fmt: skip
        assert result.returncode == 0, result.stderr
    [snap] = snapshots(data, "web1")
    assert snap.normalized["mem"]["total"] == meminfo_total()
    assert snap.document["hostname"] == socket.gethostname()
    assert snap.normalized["load"]["cpucore"] >= 1
    assert list((tmp_path / "spool").glob("*.json")) == []


def test_the_spool_keeps_documents_while_the_hub_is_down(tmp_path: Path) -> None:
    data, spool, port = tmp_path / "hub", tmp_path / "spool", free_port()
    url = f"http://127.0.0.1:{port}"
    with ServeProcess(data):
        token = add_system(data, "web2")  # registered; the hub then goes away
    env = {"FLEETWATCH_TOKEN": token}
    down = run_cli("push", "--hub", url, "--once", "--spool", str(spool), env=env)
    assert down.returncode == 2
    assert "kept in" in down.stderr.splitlines()[-1]
    assert len(list(spool.glob("*.json"))) == 1
    with ServeProcess(data, "--port", str(port)):  # the last --port wins
        up = run_cli("push", "--hub", url, "--once", "--spool", str(spool), env=env)
        assert up.returncode == 0, up.stderr
    assert len(snapshots(data, "web2")) == 2  # the spooled one, then the new one
    assert list(spool.glob("*.json")) == []


def test_a_refused_token_exits_with_one_clear_line(tmp_path: Path) -> None:
    with ServeProcess(tmp_path / "hub") as hub:
        result = run_cli("push", "--hub", hub.url, "--once", "--spool", str(tmp_path / "s"),
                         env={"FLEETWATCH_TOKEN": "fws_not-a-token"})  # fmt: skip
    assert result.returncode == 1
    assert "refused the token (401)" in result.stderr.strip().splitlines()[-1]
