"""Three real ``fleetwatch serve`` processes on one fresh PostgreSQL database (issue 18, part 3).

Started at once, all come up, each with a local system of its own; a login made on one works on
another; a silent system gets one STALE event and every hub calls it stale; a silent service is
marked once; each fleet-wide job is held by one hub, and ``kill -9`` of that hub hands its jobs
to another, which then opens the next STALE event.
"""

from __future__ import annotations

import signal
import socket
import time
import zlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import psycopg
import pytest
from serving import ServeProcess, run_cli

pytestmark = [pytest.mark.e2e, pytest.mark.postgres]

USER, PASSWORD = "ops", "ops password"
JOBS = ("staleness", "freshness", "rollups", "retention")
ENV = {
    "FLEETWATCH_CONSOLE_STALE_MINIMUM_SECONDS": "3",
    "FLEETWATCH_STORAGE_ROLLUP_EVERY_SECONDS": "1",
    "FLEETWATCH_STORAGE_RETENTION_EVERY_SECONDS": "1",
}


def cli(*args: str, stdin: str | None = None, module: str = "fleetwatch") -> None:
    done = run_cli(*args, stdin=stdin, module=module, timeout=60)
    assert done.returncode == 0, done.stderr


def until(condition: Callable[[], bool], seconds: float, what: str) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def lock_key(name: str) -> int:
    return zlib.crc32(name.encode()) & 0x7FFF_FFFF  # as fleetwatch.store.pg_locks


def holders(db: str, names: list[str]) -> dict[str, str | None]:
    """Fleet-wide job -> the local system name of the hub holding it (pg_locks: the job's and
    the hub's own-name lock share the holder's lock connection)."""
    with psycopg.connect(db, autocommit=True) as conn:
        rows = conn.execute(
            "SELECT pid, objid FROM pg_locks WHERE locktype = 'advisory' AND classid = 26231"
            " AND objsubid = 2 AND granted"
        ).fetchall()
    by_pid: dict[int, set[int]] = {}
    for pid, objid in rows:
        by_pid.setdefault(pid, set()).add(int(objid))
    out: dict[str, str | None] = {}
    for job in JOBS:
        out[job] = None
        for keys in by_pid.values():
            if lock_key(f"job:{job}") in keys:
                found = [n for n in names if lock_key(f"local-system:{n}") in keys]
                out[job] = found[0] if found else "?"
    return out


def own_name(hub: ServeProcess) -> str:
    said = [line for line in hub.log if "this hub's own machine is the system" in line]
    assert said, hub.log
    return said[0].rsplit(" ", 1)[1]


def push(url: str, token: str) -> None:
    document = {"hostname": "nas1.example", "version": "TrueNAS-13.0",
                "cpu": [{"user": 5, "system": 5, "idle": 90}]}  # fmt: skip
    answer = httpx.put(f"{url}/api/external/submit_stats", json=document, auth=("", token),
                       timeout=10)  # fmt: skip
    assert answer.status_code == 200, answer.text


def stale_events(db: str) -> list[tuple[float, float]]:
    with psycopg.connect(db, autocommit=True) as conn:
        return conn.execute(
            "SELECT e.begin_at, e.end_at FROM events e JOIN systems s ON s.id = e.system_id"
            " WHERE s.name = 'nas1' AND e.type = 'STALE' ORDER BY e.id"
        ).fetchall()


def test_three_hubs_share_one_database(tmp_path: Path, postgres_url: str) -> None:
    db = postgres_url
    where = ("--data-dir", str(tmp_path), "--database", db)
    cli("user", "add", USER, "--group", "admin", "--password-stdin", *where,
        stdin=PASSWORD + "\n", module="fleetwatch.cli_admin")  # fmt: skip
    cli("service", "add", "web1", "backup", "--freshness", "2", *where)
    hubs = [ServeProcess(tmp_path / f"hub{i}", "--database", db, "--refresh", "5", env=ENV)
            for i in range(3)]  # fmt: skip
    try:
        with ThreadPoolExecutor(3) as pool:  # all at once, on a database none has seeded
            list(pool.map(lambda hub: hub.start(timeout=30), hubs))
        auth = (USER, PASSWORD)
        one, two, three = (hub.url for hub in hubs)

        # Each hub's machine is a system of its own: the host name, then host-port.
        systems = httpx.get(f"{one}/api/v1/systems", auth=auth, timeout=10).json()
        local = sorted(s["name"] for s in systems["systems"] if s["source"] == "local")
        host = socket.gethostname()
        assert len(local) == 3, local
        assert sorted(local) == sorted([host, f"{host}-2", f"{host}-3"])  # --port 0: numbered

        # A login made on one hub works on another.
        login = httpx.post(f"{one}/api/v1/login", json={"user": USER, "password": PASSWORD})
        data = login.json()["data"]
        headers = {"X-User-Id": data["userId"], "X-Auth-Token": data["authToken"]}
        assert httpx.get(f"{three}/api/v1/me", headers=headers).status_code == 200

        # Each job is held by exactly one hub.
        held = holders(db, local)
        assert all(held[job] in local for job in JOBS), held

        # A system pushing to two hubs, then silent: one STALE, stale on every hub.
        made = httpx.post(f"{two}/api/v1/systems.create", json={"name": "nas1"}, auth=auth)
        token = made.json()["token"]
        for url in (one, two, three, one):
            push(url, token)
        result = {"host_name": "web1", "service_description": "backup", "status_code": 0,
                  "plugin_output": "OK"}  # fmt: skip
        answer = httpx.post(f"{three}/api/command/PROCESS_SERVICE_CHECK_RESULT", json=result,
                            auth=auth)  # fmt: skip
        assert answer.status_code == 200, answer.text

        def stale_everywhere() -> bool:
            for url in (one, two, three):
                rows = httpx.get(f"{url}/api/v1/systems", auth=auth, timeout=10).json()
                if not any(s["name"] == "nas1" and s["stale"] for s in rows["systems"]):
                    return False
            return True

        until(stale_everywhere, 10, "nas1 stale on every hub")

        # The systems list reads the open STALE event; the counts read each hub's copy of the
        # stale set, which follows the database within a tick (1 s). The counts are kept for a
        # while (counting snapshots is not free): refresh=1 asks for them now.
        def counted_everywhere() -> bool:
            for url in (one, two, three):
                stats = httpx.get(f"{url}/api/v1/statistics?refresh=1", auth=auth).json()
                if stats["staleSystems"] != 1:
                    return False
            return True

        until(counted_everywhere, 3, "staleSystems 1 on every hub")
        assert len(stale_events(db)) == 1

        # The silent service: marked stale once, whichever hub reads it.
        def service_stale() -> bool:
            got = httpx.get(f"{two}/api/status/service/web1;backup", auth=auth).json()
            return bool(got["is_stale"])

        until(service_stale, 10, "the service marked stale")
        time.sleep(1.5)  # a few more freshness and staleness passes: nothing more may come
        with psycopg.connect(db, autocommit=True) as conn:
            sources = [source for (source,) in conn.execute(
                "SELECT r.source FROM check_results r JOIN check_objects o ON o.id = r.object_id"
                " WHERE o.service_description = 'backup' ORDER BY r.id"
            )]  # fmt: skip
        # (a silence before the first result, while the hubs started, is marked once too)
        after = sources[sources.index("passive") + 1 :]
        assert after == ["stale"], sources
        assert sources.count("stale") <= 2, sources
        assert len(stale_events(db)) == 1

        # Its return ends the event once, pushed to a hub that is not the job's holder.
        holder = held["staleness"]
        by_name = {own_name(hub): hub for hub in hubs}
        victim = by_name[str(holder)]
        others = [hub for hub in hubs if hub is not victim]
        push(others[0].url, token)
        until(lambda: stale_events(db)[0][1] > 0, 5, "the STALE event ended")

        # kill -9 of the hub holding the jobs: another takes every one over within two periods
        # (1 s each here), and opens nas1's next STALE event.
        killed_at = time.monotonic()
        assert victim.stop(signal.SIGKILL) == -signal.SIGKILL
        survivors = [n for n in local if by_name[n] is not victim]

        def handed_over() -> bool:
            now = holders(db, local)
            return all(now[job] in survivors for job in JOBS)

        # Two periods are 2 s; the slack is for a 2-core machine running the rest of the suite
        # beside this test (under that load it once took past 5 s).
        try:
            until(handed_over, 8, "the jobs handed over")
        except AssertionError as exc:  # who held what then, to tell a slow hub from a stuck one
            raise AssertionError(f"{exc}; holders: {holders(db, local)}") from None
        print(f"jobs handed over {time.monotonic() - killed_at:.2f} s after the kill")
        assert time.monotonic() - killed_at < 8
        until(lambda: len(stale_events(db)) == 2, 15, "the second STALE event")
        time.sleep(1.0)
        events = stale_events(db)
        assert len(events) == 2, events
        assert events[1][1] < 0
        for hub in others:
            rows = httpx.get(f"{hub.url}/api/v1/systems", auth=auth, timeout=10).json()
            assert [s["stale"] for s in rows["systems"] if s["name"] == "nas1"] == [True]
    finally:
        for hub in hubs:
            hub.stop()
