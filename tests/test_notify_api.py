"""``/api/v1/notifications.*`` in process, the TOML tables and the stream's bounds: secrets are
never shown again, bad input is a 400 naming the field, config errors are one line."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from hubs import add_user, client_for, make_hub, started

from fleetwatch.app import Hub, build_hub
from fleetwatch.config import ConfigError, load_config
from fleetwatch.engine.event_stream import EventStreams, TooManyStreams

pytestmark = pytest.mark.anyio

TOKEN_URL = "tgram://123456789:AAHsecretTOKENvalue/987654"


@pytest.fixture
async def hub(tmp_path: Path) -> AsyncIterator[Hub]:
    the_hub = await started(make_hub(tmp_path))
    yield the_hub
    await the_hub.store.close()


@pytest.fixture
async def admin(hub: Hub) -> AsyncIterator[httpx.AsyncClient]:
    headers = await add_user(hub, "ann", "ann password", "admin")
    async with client_for(hub) as client:
        client.headers.update(headers)
        yield client


async def test_channel_secrets_are_shown_once_and_never_again(
    hub: Hub, admin: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    made = await admin.post(
        "/api/v1/notifications.channels.create",
        json={"name": "hook", "url": "webhook+http://127.0.0.1:9/h"},
    )
    assert made.status_code == 200, made.text
    secret = made.json()["secret"]
    assert len(secret) >= 32
    assert made.json()["channel"]["url"] == "webhook+http://***"
    made = await admin.post(
        "/api/v1/notifications.channels.create", json={"name": "phone", "url": TOKEN_URL}
    )
    assert made.status_code == 200, made.text
    assert "secret" not in made.json()
    assert made.json()["channel"]["url"] == "tgram://***"
    rule = {"name": "all", "channels": ["hook", "phone"]}
    assert (await admin.post("/api/v1/notifications.rules.create", json=rule)).status_code == 200
    answers = [
        await admin.get(path)
        for path in ("/api/v1/notifications.channels.list", "/api/v1/notifications.rules.list",
                     "/api/v1/notifications.deliveries.list", "/api/v1/audit.list",
                     "/api/4/config", "/api/4/all")
    ]  # fmt: skip
    for answer in answers:
        assert answer.status_code == 200, answer.text
        assert secret not in answer.text
        assert "AAHsecretTOKENvalue" not in answer.text
    listed = answers[0].json()["channels"]
    assert [(c["name"], c["url"]) for c in listed] == [
        ("hook", "webhook+http://***"), ("phone", "tgram://***")
    ]  # fmt: skip
    tested = await admin.post("/api/v1/notifications.channels.test", json={"name": "hook"})
    assert tested.status_code == 200
    assert tested.json()["sent"] is False
    assert secret not in tested.text
    assert "AAHsecretTOKENvalue" not in caplog.text
    assert secret not in caplog.text


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "json://127.0.0.1/"}, "name"),
        ({"name": "x", "url": "nope://what"}, "url"),
        ({"name": "bad name!", "url": "json://127.0.0.1/"}, "name"),
        ({"name": "x", "url": "json://127.0.0.1/", "secret": "s"}, "secret"),
        ({"name": "x", "url": "json://" + "a" * 3000}, "url"),
    ],
)
async def test_bad_channels_are_refused_naming_the_field(
    admin: httpx.AsyncClient, body: dict[str, str], field: str
) -> None:
    answer = await admin.post("/api/v1/notifications.channels.create", json=body)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"].startswith(field), answer.text
    listed = await admin.get("/api/v1/notifications.channels.list")
    assert listed.json()["channels"] == []


@pytest.mark.parametrize(
    ("rule", "field"),
    [
        ({"channels": ["ops"]}, "name"),
        ({"name": "r"}, "channels"),
        ({"name": "r", "channels": ["nope"]}, "channels"),
        ({"name": "r", "channels": ["ops"], "kinds": ["weather"]}, "kinds"),
        ({"name": "r", "channels": ["ops"], "repeat": "often"}, "repeat"),
        ({"name": "r", "channels": ["ops"], "repeat": -1}, "repeat"),
        ({"name": "r", "channels": ["ops"], "escalate_after": 5}, "escalate_to"),
        ({"name": "r", "channels": ["ops"], "title": "{% for x in y %}{% endfor %}"}, "title"),
        ({"name": "r", "channels": ["ops"], "body": "{{ x"}, "body"),
        ({"name": "r", "channels": ["ops"], "colour": "red"}, "colour"),
        ({"name": "r", "channels": ["ops"], "hosts": ["h"] * 51}, "hosts"),
    ],
)
async def test_bad_rules_are_refused_naming_the_field(
    admin: httpx.AsyncClient, rule: dict[str, object], field: str
) -> None:
    made = await admin.post(
        "/api/v1/notifications.channels.create", json={"name": "ops", "url": "json://127.0.0.1:9/"}
    )
    assert made.status_code == 200
    answer = await admin.post("/api/v1/notifications.rules.create", json=rule)
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"].startswith(field), answer.text
    assert (await admin.get("/api/v1/notifications.rules.list")).json()["rules"] == []


async def test_rules_round_trip_and_removal(admin: httpx.AsyncClient) -> None:
    await admin.post(
        "/api/v1/notifications.channels.create", json={"name": "ops", "url": "json://127.0.0.1:9/"}
    )
    rule = {
        "name": "crit",
        "channels": ["ops"],
        "severities": ["CRITICAL"],
        "min_duration": "2m",
        "repeat": 30,
        "title": "{{ object }} {{ state }}",
    }
    made = await admin.post("/api/v1/notifications.rules.create", json=rule)
    assert made.status_code == 200, made.text
    [listed] = (await admin.get("/api/v1/notifications.rules.list")).json()["rules"]
    assert (listed["min_duration"], listed["repeat"]) == (120, 30)
    refused = await admin.post("/api/v1/notifications.channels.delete", json={"name": "ops"})
    assert refused.status_code == 400  # a rule still sends to it
    deleted = await admin.post("/api/v1/notifications.rules.delete", json={"name": "crit"})
    assert deleted.status_code == 200
    again = await admin.post("/api/v1/notifications.rules.delete", json={"name": "crit"})
    assert again.status_code == 404
    gone = await admin.post("/api/v1/notifications.channels.delete", json={"name": "ops"})
    assert gone.status_code == 200


@pytest.mark.parametrize("query", ["count=abc", "count=1000", "offset=-1", "status=lost"])
async def test_delivery_list_bounds(admin: httpx.AsyncClient, query: str) -> None:
    answer = await admin.get(f"/api/v1/notifications.deliveries.list?{query}")
    assert answer.status_code == 400, answer.text


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "fleetwatch.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            '[[notify.channels]]\nname = "a"\nurl = "json://127.0.0.1/"\ncolour = 1\n',
            "notify.channels[1]: unknown key 'colour'",
        ),
        (
            '[[notify.channels]]\nname = "a"\nurl = "webhook+https://h.example/x"\n',
            "notify.channels[1]: secret is required for a webhook channel",
        ),
        (
            '[[notify.rules]]\nname = "r"\nchannels = ["a"]\nrepeat = "soon"\n',
            "notify.rules[1]: repeat must be a number or a duration",
        ),
        ("[notify]\nrules = 3\n", "notify.rules must be an array of tables"),
        ('[notify]\ntimeout_seconds = "slow"\n', "notify.timeout_seconds must be a number"),
    ],
)
def test_toml_errors_are_one_line(tmp_path: Path, toml: str, message: str) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(write(tmp_path, toml), env={})
    assert message in str(caught.value)
    assert "\n" not in str(caught.value)


async def test_toml_channels_and_rules_are_applied_at_start(tmp_path: Path) -> None:
    toml = (f'[storage]\ndata_dir = "{tmp_path}"\n'
            '[[notify.channels]]\nname = "ops"\nurl = "json://127.0.0.1:9/"\n'
            '[[notify.rules]]\nname = "all"\nchannels = ["ops"]\nmin_duration = 60\n')  # fmt: skip
    hub = build_hub(load_config(write(tmp_path, toml), env={}))
    await hub.prepare()
    try:
        [channel] = await hub.store.list_channels()
        assert (channel.name, channel.origin) == ("ops", "config")
        [rule] = await hub.store.list_rules()
        assert (rule.name, rule.spec["min_duration"]) == ("all", 60)
    finally:
        await hub.store.close()
    bad = toml.replace('channels = ["ops"]', 'channels = ["pager"]')
    hub = build_hub(load_config(write(tmp_path, bad), env={}))
    with pytest.raises(ConfigError, match="channels names no channel 'pager'"):
        await hub.prepare()
    await hub.store.close()


async def test_streams_are_bounded(hub: Hub) -> None:
    streams = EventStreams(hub.store, checks_system="x", max_streams=2, buffer=3)
    first = await streams.subscribe(None)
    second = await streams.subscribe(None)
    with pytest.raises(TooManyStreams):
        await streams.subscribe(None)
    system = await hub.store.add_system("web1")
    from notify_parts import threshold_event  # noqa: PLC0415

    for _ in range(5):  # more than a stream's buffer holds
        await hub.store.save_event(threshold_event(system.id, 100.0))
    await streams.poll()
    notice = await anext(first)
    assert (notice.event, notice.id) == ("dropped", None)
    assert b'"count":2' in notice.data
    kept = [await anext(first) for _ in range(3)]
    assert [k.id for k in kept] == sorted(k.id for k in kept if k.id is not None)
    await first.aclose()
    await second.aclose()
    assert streams.open_streams == 0


class CountingOutbox:
    """The real store, counting its outbox reads."""

    def __init__(self, store: Any) -> None:
        self.store = store
        self.reads = 0

    def __getattr__(self, name: str) -> Any:
        found = getattr(self.store, name)
        if name.startswith("outbox_"):
            self.reads += 1
        return found


async def test_nobody_listening_reads_nothing_and_the_first_stream_starts_now(hub: Hub) -> None:
    from notify_parts import threshold_event  # noqa: PLC0415

    store = CountingOutbox(hub.store)
    streams = EventStreams(store, checks_system="x")
    await streams.start()
    system = await hub.store.add_system("web1")
    await hub.store.save_event(threshold_event(system.id, 100.0))  # before anyone listens
    store.reads = 0
    for _ in range(3):
        await streams.poll()
    assert store.reads == 0  # an idle hub's poll costs no query
    stream = await streams.subscribe(None)
    await hub.store.save_event(threshold_event(system.id, 90.0))
    await streams.poll()
    item = await anext(stream)
    assert b"90" in item.data  # the event from after the subscription, not the one before
    assert stream._subscriber.queue.empty()
    await stream.aclose()


async def test_the_routes_are_in_openapi(admin: httpx.AsyncClient) -> None:
    paths = (await admin.get("/openapi.json")).json()["paths"]
    for route in ("notifications.channels.create", "notifications.rules.list",
                  "notifications.deliveries.list", "events.stream"):  # fmt: skip
        assert f"/api/v1/{route}" in paths, route
    summary = paths["/api/v1/events.stream"]["get"]["summary"]
    assert summary.startswith("Server-Sent Events")


async def test_a_stream_never_read_is_dropped_once_past_its_life(hub: Hub) -> None:
    streams = EventStreams(hub.store, checks_system="x", max_streams=1, max_stream_seconds=-61)
    await streams.subscribe(None)  # the client left before its first byte: never read
    assert streams.open_streams == 1
    await streams.poll()
    assert streams.open_streams == 0
    await streams.subscribe(None)  # its place is free again
