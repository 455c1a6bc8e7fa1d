"""Delivery, for real: events through the dispatcher and the worker to a real HTTP receiver
and a real SMTP server on loopback (webhook, Apprise json://, ntfy:// and mailto://), with
signatures checked by the receiver, retries, and every attempt recorded. Both backends."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import Iterator

import orjson
import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.handlers import Message
from notify_parts import Clock, Receiver, dispatcher, threshold_event, verify_signature

from fleetwatch.engine.notify.channels import SCHEMA, Senders, new_secret
from fleetwatch.engine.notify.worker import DeliveryWorker, RetryPolicy
from fleetwatch.store import Store

pytestmark = pytest.mark.anyio


class Mailbox(Message):
    def __init__(self) -> None:
        super().__init__()
        self.messages: list[object] = []

    def handle_message(self, message: object) -> None:
        self.messages.append(message)


@pytest.fixture
def smtp() -> Iterator[tuple[int, Mailbox]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    box = Mailbox()
    controller = Controller(box, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield port, box
    finally:
        controller.stop()


async def until(condition: object, seconds: float = 20.0) -> None:
    deadline = asyncio.get_running_loop().time() + seconds
    while not condition():  # type: ignore[operator]
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("timed out waiting")
        await asyncio.sleep(0.02)


async def event_for_all(store: Store, clock: Clock) -> None:
    system = await store.add_system("web1")
    await store.add_rule("all", {"channels": [c.name for c in await store.list_channels()]},
                         origin="api")  # fmt: skip
    await store.save_event(threshold_event(system.id, clock.now, state="CRITICAL"))
    await dispatcher(store, clock).run_once()


async def test_every_kind_of_channel_receives(store: Store, smtp: tuple[int, Mailbox]) -> None:
    port, mailbox = smtp
    clock = Clock()
    secret = new_secret()
    with Receiver() as receiver:
        await store.add_channel("hook", f"webhook+{receiver.url}/hook", secret, origin="api")
        await store.add_channel("json", f"json://127.0.0.1:{receiver.port}/json", "",
                                origin="api")  # fmt: skip
        await store.add_channel("ntfy", f"ntfy://127.0.0.1:{receiver.port}/alerts", "",
                                origin="api")  # fmt: skip
        await store.add_channel(
            "mail",
            f"mailto://127.0.0.1:{port}?from=hub@example.com&to=ops@example.com&mode=insecure",
            "",
            origin="api",
        )
        await event_for_all(store, clock)
        senders = Senders(timeout=10)
        worker = DeliveryWorker(store, senders, clock=clock)
        try:
            await worker.run_once()
            await worker.drain()
        finally:
            await senders.close()
        rows, total = await store.list_deliveries(count=10, offset=0)
        assert total == 4
        assert {d.channel_name: d.status for d in rows} == dict.fromkeys(
            ("hook", "json", "ntfy", "mail"), "sent"
        )
        paths = sorted(r.path.split("?")[0] for r in receiver.received)
        assert paths == ["/", "/hook", "/json"]  # ntfy posts to / and names the topic inside
        hook = next(r for r in receiver.received if r.path == "/hook")
        assert verify_signature(secret, hook.headers, hook.body)
        assert not verify_signature("wrong", hook.headers, hook.body)
        body = orjson.loads(hook.body)
        assert body["schema"] == SCHEMA
        assert body["title"] == "CRITICAL web1: CPU total at 91.5"
        assert body["event"]["system"] == "web1"
        assert hook.headers["Idempotency-Key"] == body["idempotency_key"]
        json_body = orjson.loads(
            next(r for r in receiver.received if r.path.startswith("/json")).body
        )
        assert json_body["title"] == "CRITICAL web1: CPU total at 91.5"
        ntfy = orjson.loads(next(r for r in receiver.received if r.path == "/").body)
        assert ntfy["topic"] == "alerts"
        assert "CPU total" in ntfy["title"]
        await until(lambda: mailbox.messages)
        assert "CPU total" in str(mailbox.messages[0])


async def test_retries_until_the_receiver_recovers(store: Store) -> None:
    clock = Clock()
    with Receiver(fail=2) as receiver:
        await store.add_channel("hook", f"webhook+{receiver.url}/hook", new_secret(),
                                origin="api")  # fmt: skip
        await event_for_all(store, clock)
        senders = Senders()
        worker = DeliveryWorker(store, senders, clock=clock,
                                retry=RetryPolicy(first=60, longest=600))  # fmt: skip
        try:
            for _ in range(3):
                await worker.run_once()
                await worker.drain()
                assert await worker.run_once() == 0  # not due again yet
                clock.advance(121)
        finally:
            await senders.close()
        (delivery,), _ = await store.list_deliveries(count=10, offset=0)
        assert delivery.status == "sent"
        assert delivery.attempts == 3
        attempts = await store.delivery_attempts([delivery.id])
        assert [(a.outcome, a.status_code) for a in attempts] == [
            ("error", 500), ("error", 500), ("sent", 200)
        ]  # fmt: skip
        keys = {r.headers["Idempotency-Key"] for r in receiver.received}
        assert len(receiver.received) == 3
        assert len(keys) == 1


async def test_the_last_failure_marks_it_failed(store: Store) -> None:
    clock = Clock()
    with Receiver(fail=100) as receiver:
        await store.add_channel("hook", f"webhook+{receiver.url}/hook", new_secret(),
                                origin="api")  # fmt: skip
        await event_for_all(store, clock)
        senders = Senders()
        worker = DeliveryWorker(
            store, senders, clock=clock, retry=RetryPolicy(first=60, longest=60, give_up_after=100)
        )
        try:
            for _ in range(3):
                await worker.run_once()
                await worker.drain()
                clock.advance(61)
        finally:
            await senders.close()
        (delivery,), _ = await store.list_deliveries(count=10, offset=0)
        assert (delivery.status, delivery.attempts) == ("failed", 2)
        assert "ok" in delivery.last_error
