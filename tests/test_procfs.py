"""The direct /proc process walk agrees with psutil on this machine (real data, Linux)."""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

import psutil
import pytest

from fleetwatch.collect.procfs import ProcfsTable, available

pytestmark = pytest.mark.skipif(not available(), reason="no Linux /proc on this platform")


def test_own_process_matches_psutil() -> None:
    table = ProcfsTable()
    me = next(p for p in table.snapshot(time.time()) if p["pid"] == os.getpid())
    ours = psutil.Process()
    assert me["name"] == ours.name()
    assert me["cmdline"] == ours.cmdline()
    assert me["username"] == ours.username()
    assert me["num_threads"] == ours.num_threads()
    assert me["status"] in {"R", "S"}
    assert me["gids"] == ours.gids()._asdict()
    assert abs(me["memory_info"]["vms"] - ours.memory_info().vms) < 64 * 1024 * 1024
    assert me["key"] == "pid"


def test_same_processes_as_psutil() -> None:
    ours = {p["pid"] for p in ProcfsTable().snapshot(time.time())}
    theirs = set(psutil.pids())
    # Processes may start or end between the two walks; nearly all must agree.
    assert len(ours ^ theirs) <= 3


def test_cpu_percent_of_a_busy_thread() -> None:
    table = ProcfsTable()
    table.snapshot(time.time())
    stop = time.monotonic() + 0.5

    def burn() -> None:
        while time.monotonic() < stop:
            sum(range(1000))

    worker = threading.Thread(target=burn)
    worker.start()
    worker.join()
    me = next(p for p in table.snapshot(time.time()) if p["pid"] == os.getpid())
    assert me["cpu_percent"] > 40.0


def test_io_counters_keep_the_previous_reading(tmp_path: Path) -> None:
    table = ProcfsTable()
    table.snapshot(time.time())
    me = next(p for p in table.snapshot(time.time()) if p["pid"] == os.getpid())
    io = me["io_counters"]
    if io is None:
        pytest.skip("/proc/self/io is not readable here")
    assert len(io) == 5
    assert io[4] == 1


def test_a_vanished_process_is_skipped(tmp_path: Path) -> None:
    fake = tmp_path / "proc"
    (fake / "123").mkdir(parents=True)  # a pid directory whose files are already gone
    assert ProcfsTable(root=fake, memory_total=1).snapshot(time.time()) == []
