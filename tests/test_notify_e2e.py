"""Notifications end to end with real ``fleetwatch serve`` processes and a real receiver on
loopback: ``kill -9`` between the events and their sends (each sent once after the restart),
two hubs on one PostgreSQL database (each delivery sent by one), and the event stream resumed
with ``Last-Event-ID``."""

from __future__ import annotations

import signal
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import orjson
import pytest
from notify_parts import Receiver, verify_signature
from serving import ServeProcess, run_cli

pytestmark = pytest.mark.e2e

USER, PASSWORD = "reporter", "reporter password"
SECRET = "e2e-signing-secret"


def cli(*args: str, stdin: str | None = None, module: str = "fleetwatch") -> str:
    done = run_cli(*args, stdin=stdin, module=module, timeout=60)
    assert done.returncode == 0, done.stderr
    return done.stdout


# Services are made by their first result: fewer CLI runs, a faster test.
AUTO = {"FLEETWATCH_CHECKS_AUTO_CREATE": "true"}


def prepare(data_dir: Path, receiver: Receiver, *store: str) -> None:
    where = ("--data-dir", str(data_dir), *store)
    cli("user", "add", USER, "--group", "admin", "--password-stdin", *where,
        stdin=PASSWORD + "\n", module="fleetwatch.cli_admin")  # fmt: skip
    cli("notify", "channel", "add", "hook", f"webhook+{receiver.url}/hook", "--secret", SECRET,
        *where)  # fmt: skip
    cli("notify", "rule", "add", "checks", "--channel", "hook", "--kind", "check", *where)


def report(url: str, services: range, code: int = 2) -> None:
    with httpx.Client(base_url=url, auth=(USER, PASSWORD), timeout=30) as client:
        for number in services:
            body = {
                "host_name": "web1",
                "service_description": f"job{number}",
                "status_code": code,
                "plugin_output": f"CRITICAL: job {number} failed",
            }
            answer = client.post("/api/command/PROCESS_SERVICE_CHECK_RESULT", json=body)
            assert answer.status_code == 200, answer.text


def until(condition: Callable[[], bool], seconds: float = 60.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        assert time.monotonic() < deadline, "timed out waiting"
        time.sleep(0.05)


def deliveries(url: str) -> list[dict[str, object]]:
    answer = httpx.get(f"{url}/api/v1/notifications.deliveries.list?count=100",
                       auth=(USER, PASSWORD), timeout=30)  # fmt: skip
    assert answer.status_code == 200, answer.text
    rows: list[dict[str, object]] = answer.json()["deliveries"]
    return rows


def store_args(backend: str, request: pytest.FixtureRequest) -> tuple[str, ...]:
    if backend == "postgres":
        return ("--database", request.getfixturevalue("postgres_url"))
    return ()


@pytest.mark.parametrize(
    "backend", ["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def test_kill_9_between_the_events_and_their_sends(
    tmp_path: Path, backend: str, request: pytest.FixtureRequest
) -> None:
    store = store_args(backend, request)
    with Receiver() as receiver:
        prepare(tmp_path, receiver, *store)
        # The first hub commits the events but sends nothing (its worker is off), then dies.
        first = ServeProcess(tmp_path, *store, env={**AUTO, "FLEETWATCH_NOTIFY_ENABLED": "false"})
        first.start()
        try:
            report(first.url, range(5))
        finally:
            assert first.stop(signal.SIGKILL) == -signal.SIGKILL
        assert receiver.received == []
        with ServeProcess(tmp_path, *store, env=AUTO) as second:
            until(lambda: len(receiver.received) >= 5)
            until(lambda: all(d["status"] == "sent" for d in deliveries(second.url)))
            time.sleep(1.5)  # three more dispatch and delivery cycles: nothing more may come
            rows = deliveries(second.url)
        assert len(rows) == 5
        assert len(receiver.received) == 5
        keys = {r.headers["Idempotency-Key"] for r in receiver.received}
        assert len(keys) == 5
        for received in receiver.received:
            assert verify_signature(SECRET, received.headers, received.body)
        titles = sorted(orjson.loads(r.body)["title"] for r in receiver.received)
        assert titles[0] == "CRITICAL web1 / job0: job 0 failed"


@pytest.mark.postgres
def test_two_hubs_on_one_database_send_each_delivery_once(
    tmp_path: Path, postgres_url: str
) -> None:
    store = ("--database", postgres_url)
    with Receiver() as receiver:
        prepare(tmp_path, receiver, *store)
        one = ServeProcess(tmp_path / "one", *store, env=AUTO)
        two = ServeProcess(tmp_path / "two", *store, env=AUTO)
        with one, two:
            report(one.url, range(0, 20, 2))
            report(two.url, range(1, 20, 2))
            until(lambda: len(receiver.received) >= 20)
            until(lambda: all(d["status"] == "sent" for d in deliveries(two.url)))
            time.sleep(1.5)
            assert len(deliveries(one.url)) == 20
        assert len(receiver.received) == 20
        assert len({r.headers["Idempotency-Key"] for r in receiver.received}) == 20


def read_events(response: httpx.Response, count: int) -> list[tuple[int, dict[str, object]]]:
    out: list[tuple[int, dict[str, object]]] = []
    event_id: int | None = None
    for line in response.iter_lines():
        if line.startswith("id: "):
            event_id = int(line[4:])
        elif line.startswith("data: ") and event_id is not None:
            out.append((event_id, orjson.loads(line[6:])))
            event_id = None
            if len(out) == count:
                break
    return out


def test_the_event_stream_resumes_from_last_event_id(tmp_path: Path) -> None:
    with Receiver() as receiver:
        prepare(tmp_path, receiver)
        with ServeProcess(
            tmp_path, env={**AUTO, "FLEETWATCH_EVENTS_HEARTBEAT_SECONDS": "0.2"}
        ) as hub:
            auth = (USER, PASSWORD)
            with httpx.Client(base_url=hub.url, auth=auth, timeout=30) as client:
                with client.stream("GET", "/api/v1/events.stream") as stream:
                    assert stream.headers["content-type"].startswith("text/event-stream")
                    # httpx asks for gzip; an event stream is never compressed (api/compression)
                    assert "content-encoding" not in stream.headers
                    report(hub.url, range(1))
                    [(first_id, first)] = read_events(stream, 1)
                assert first["kind"] == "check"
                assert first["object"] == "web1 / job0"
                assert first["severity"] == "CRITICAL"
                report(hub.url, range(1, 3))  # while no stream is open
                headers = {"Last-Event-ID": str(first_id)}
                with client.stream("GET", "/api/v1/events.stream", headers=headers) as stream:
                    missed = read_events(stream, 2)
                assert [e["object"] for _, e in missed] == ["web1 / job1", "web1 / job2"]
                assert [i for i, _ in missed] == sorted(i for i, _ in missed)
                assert missed[0][0] > first_id
                answer = client.get("/api/v1/events.stream", headers={"Last-Event-ID": "x"})
                assert answer.status_code == 400
