"""Delivery in its own process (``notify.worker``): a real ``fleetwatch serve`` starts the
child, starts another when it dies, and never leaves one behind when the hub is killed; the
``fleetwatch notify worker`` verb delivers for a hub whose worker is off."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import orjson
import psutil
import pytest
from notify_parts import Receiver
from serving import ServeProcess, run_cli
from test_notify_e2e import AUTO, PASSWORD, USER, cli, prepare, report

pytestmark = pytest.mark.e2e

CHILD = "fleetwatch.engine.notify.child"


def until(condition: Callable[[], object], seconds: float = 20.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def delivery_children(pid: int) -> list[psutil.Process]:
    out = []
    for child in psutil.Process(pid).children():
        try:
            if CHILD in " ".join(child.cmdline()) and child.status() != psutil.STATUS_ZOMBIE:
                out.append(child)
        except psutil.NoSuchProcess:
            pass
    return out


def gone(pid: int) -> bool:
    try:
        return psutil.Process(pid).status() == psutil.STATUS_ZOMBIE
    except psutil.NoSuchProcess:
        return True


def test_the_child_delivers_is_restarted_and_dies_with_the_hub(tmp_path: Path) -> None:
    with Receiver() as receiver:
        prepare(tmp_path, receiver)
        hub = ServeProcess(tmp_path, env={**AUTO, "FLEETWATCH_NOTIFY_RETRY_FIRST_SECONDS": "1"})
        hub.start()
        try:
            assert hub.proc is not None
            until(lambda: delivery_children(hub.proc.pid))  # type: ignore[union-attr]
            [first] = delivery_children(hub.proc.pid)
            # Lower CPU priority than the hub's, so ingestion gets the cores first.
            until(lambda: first.nice() >= psutil.Process(hub.proc.pid).nice() + 10)  # type: ignore[union-attr]
            report(hub.url, range(2))
            until(lambda: len(receiver.received) >= 2)
            first.kill()  # a crash: the hub starts another
            until(lambda: gone(first.pid))
            until(lambda: delivery_children(hub.proc.pid))  # type: ignore[union-attr]
            [second] = delivery_children(hub.proc.pid)
            assert second.pid != first.pid
            report(hub.url, range(2, 3))
            until(lambda: len(receiver.received) >= 3)
        finally:
            hub.stop(signal.SIGKILL)
        # The hub died without a word: its child must not outlive it.
        until(lambda: gone(second.pid), seconds=5)
        assert len({r.headers["Idempotency-Key"] for r in receiver.received}) == 3


def test_the_child_starts_with_the_first_channel(tmp_path: Path) -> None:
    # With no channel there is nothing to send: the hub keeps the incidents itself, and the
    # child (a second interpreter) starts only once a channel exists.
    cli("user", "add", USER, "--group", "admin", "--password-stdin",
        "--data-dir", str(tmp_path), stdin=PASSWORD + "\n",
        module="fleetwatch.cli_admin")  # fmt: skip
    with Receiver() as receiver, ServeProcess(tmp_path, env=AUTO) as hub:
        assert hub.proc is not None
        report(hub.url, range(2))  # two problems open ...
        report(hub.url, range(1, 2), code=0)  # ... and one of them ends
        time.sleep(1.5)  # three dispatch cycles
        assert delivery_children(hub.proc.pid) == []
        with httpx.Client(base_url=hub.url, auth=(USER, PASSWORD), timeout=30) as client:
            made = client.post(
                "/api/v1/notifications.channels.create",
                json={"name": "hook", "url": f"webhook+{receiver.url}/hook"},
            )
            assert made.status_code == 200, made.text
            made = client.post(
                "/api/v1/notifications.rules.create",
                json={"name": "checks", "channels": ["hook"], "kinds": ["check"]},
            )
            assert made.status_code == 200, made.text
        until(lambda: delivery_children(hub.proc.pid))  # type: ignore[union-attr]
        # The problem still open is told (the rule's first message is due at once); the one
        # that ended before the rule existed is not.
        until(lambda: len(receiver.received) >= 1)
        report(hub.url, range(2, 3))  # a new problem, dispatched by the child
        until(lambda: len(receiver.received) >= 2)
        time.sleep(1.5)
    titles = sorted(orjson.loads(r.body)["title"] for r in receiver.received)
    assert titles == ["CRITICAL web1 / job0: job 0 failed", "CRITICAL web1 / job2: job 2 failed"]


def test_worker_off_and_the_cli_worker(tmp_path: Path) -> None:
    with Receiver() as receiver:
        prepare(tmp_path, receiver)
        env = {**AUTO, "FLEETWATCH_NOTIFY_WORKER": "off"}
        with ServeProcess(tmp_path, env=env) as hub:
            assert hub.proc is not None
            report(hub.url, range(2))
            time.sleep(1.0)  # two poll periods: nothing may be sent by the hub
            assert delivery_children(hub.proc.pid) == []
            assert receiver.received == []
            worker = subprocess.Popen(
                [sys.executable, "-m", "fleetwatch", "notify", "worker",
                 "--data-dir", str(tmp_path)],
                stderr=subprocess.DEVNULL,
            )  # fmt: skip
            try:
                until(lambda: len(receiver.received) >= 2)
            finally:
                worker.send_signal(signal.SIGTERM)
                assert worker.wait(15) == 0
        assert len(receiver.received) == 2


def test_a_bad_worker_mode_is_one_line(tmp_path: Path) -> None:
    done = run_cli("serve", "--port", "0", "--data-dir", str(tmp_path),
                   env={"FLEETWATCH_NOTIFY_WORKER": "thread"})  # fmt: skip
    assert done.returncode == 1
    assert "notify.worker must be one of process, inline, off, not 'thread'" in done.stderr
