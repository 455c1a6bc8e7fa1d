"""Delivery in its own OS process: the dispatcher and the delivery worker, apart from ingestion.

Rules, rendering, Apprise and webhook sends and their records cost CPU per message; in the
hub's process they came out of ingestion (a storm of 10,000 events a minute to three channels
cut ``submit_stats`` throughput by half). ``notify.worker = "process"`` (the default) runs them
in a child of the hub instead, with a store connection of its own: on SQLite the WAL file is
shared, and the child's writes are group commits like the hub's, so it holds the writer lock
briefly and seldom.

The hub starts the child with the first channel (``Notifications._process`` in ``app.py``):
with none there is nothing to send, and the hub keeps the incidents itself until then.
``DeliveryProcess`` is the hub's side: it starts the child, restarts it (with a growing pause)
when it dies, and stops it with the hub. The child cannot outlive the hub: its stdin is a pipe
from the hub, and end of file (the hub exited, however it died) stops it; on Linux it also asks
the kernel to kill it when the hub dies (``PR_SET_PDEATHSIG``), in case it is busy.
``fleetwatch notify worker`` runs the same loop in the foreground, for hubs with
``notify.worker = "off"``. Exactly-once does not depend on where it runs: the claims, leases and
idempotency keys in the store are the same.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import os
import signal
import sys
import time
from typing import Any

import orjson

from fleetwatch.config import Config
from fleetwatch.engine.checks import EVENTS_SYSTEM
from fleetwatch.engine.notify.channels import Senders
from fleetwatch.engine.notify.dispatcher import Dispatcher
from fleetwatch.engine.notify.messages import Messages
from fleetwatch.engine.notify.tags import StoredTags
from fleetwatch.engine.notify.worker import DeliveryWorker, RetryPolicy
from fleetwatch.store import Store, open_store

__all__ = ["WORKER_MODES", "Delivery", "DeliveryProcess", "DeliverySettings", "run_delivery"]

log = logging.getLogger(__name__)

WORKER_MODES = ("process", "inline", "off")


@dataclasses.dataclass(frozen=True, slots=True)
class DeliverySettings:
    """What delivery needs of the hub's config; crosses to the child as one JSON line."""

    database: str
    public_url: str = ""
    timeout: float = 10.0
    concurrency: int = 4
    poll_seconds: float = 0.5
    retry_first: float = 10.0
    retry_longest: float = 3600.0
    give_up_after: float = 86400.0
    queue_size: int = 10_000
    nice: int = 10
    commit_delay: float = 0.2
    parent_pid: int = 0

    @classmethod
    def from_config(cls, config: Config) -> DeliverySettings:
        return cls(
            database=config.database,
            public_url=str(config.get("server", "public_url")),
            timeout=float(config.get("notify", "timeout_seconds")),
            concurrency=int(config.get("notify", "concurrency")),
            poll_seconds=float(config.get("notify", "poll_seconds")),
            retry_first=float(config.get("notify", "retry_first_seconds")),
            retry_longest=float(config.get("notify", "retry_longest_seconds")),
            give_up_after=float(config.get("notify", "give_up_after_seconds")),
            queue_size=int(config.get("storage", "queue_size")),
            nice=int(config.get("notify", "worker_nice")),
        )

    def encode(self) -> bytes:
        return orjson.dumps(dataclasses.asdict(self)) + b"\n"

    @classmethod
    def decode(cls, line: bytes) -> DeliverySettings:
        values: dict[str, Any] = orjson.loads(line)
        return cls(**values)


@dataclasses.dataclass
class Delivery:
    """The dispatcher and the worker over one store, wired so a dispatch wakes the worker."""

    dispatcher: Dispatcher
    worker: DeliveryWorker
    senders: Senders

    @classmethod
    def build(cls, settings: DeliverySettings, store: Store) -> Delivery:
        senders = Senders(timeout=settings.timeout, concurrency=settings.concurrency)
        retry = RetryPolicy(first=settings.retry_first, longest=settings.retry_longest,
                            give_up_after=settings.give_up_after)  # fmt: skip
        worker = DeliveryWorker(
            store, senders, retry=retry, concurrency=settings.concurrency,
            timeout=settings.timeout, poll_seconds=settings.poll_seconds,
        )  # fmt: skip
        dispatcher = Dispatcher(store, Messages(settings.public_url),
                                checks_system=EVENTS_SYSTEM, tags=StoredTags(store))  # fmt: skip
        dispatcher.on_deliveries = worker.wakeup.set
        return cls(dispatcher, worker, senders)

    def tasks(self, stop: asyncio.Event) -> list[asyncio.Task[None]]:
        poll = self.worker.poll_seconds
        return [
            asyncio.create_task(self.dispatcher.run(stop, poll), name="notify-dispatch"),
            asyncio.create_task(self.worker.run(stop), name="notify-deliver"),
        ]


async def run_delivery(settings: DeliverySettings, stop: asyncio.Event) -> None:
    """Dispatch and deliver over a store of its own until ``stop`` is set."""
    # Its writes wait up to commit_delay to commit together: delivery can wait that long, and
    # on SQLite each of its commits holds the one writer lock ingestion needs.
    store = open_store(settings.database, max_queue=settings.queue_size,
                       max_delay_seconds=settings.commit_delay)  # fmt: skip
    await store.open()
    delivery = Delivery.build(settings, store)
    try:
        tasks = delivery.tasks(stop)
        log.info("notification delivery running (pid %d, store %s)", os.getpid(), store.url)
        await asyncio.gather(*tasks)
    finally:
        await delivery.senders.close()
        await store.close()


class DeliveryProcess:
    """The hub's side: keep one delivery child running while the hub runs."""

    def __init__(
        self,
        settings: DeliverySettings,
        *,
        first_pause: float = 1.0,
        longest_pause: float = 30.0,
        grace_seconds: float | None = None,
    ) -> None:
        self.settings = dataclasses.replace(settings, parent_pid=os.getpid())
        self.first_pause = first_pause
        self.longest_pause = longest_pause
        # Sends in flight finish (each bounded by the timeout) before the child is made to stop.
        self.grace = grace_seconds if grace_seconds is not None else settings.timeout + 2
        self.proc: asyncio.subprocess.Process | None = None
        self.starts = 0

    async def run(self, stop: asyncio.Event) -> None:
        pause = self.first_pause
        while not stop.is_set():
            started = time.monotonic()
            try:
                code = await self._run_once(stop)
            except OSError as exc:
                log.error("notifications: could not start the delivery process: %s", exc)
                code = None
            if stop.is_set():
                break
            if time.monotonic() - started > 60:
                pause = self.first_pause  # it ran a while: a new failure, not a crash loop
            log.warning("notifications: the delivery process (pid %s) exited with %s; "
                        "starting another in %g s", self.pid, code, pause)  # fmt: skip
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(pause):
                    await stop.wait()
            pause = min(pause * 2, self.longest_pause)

    @property
    def pid(self) -> int | None:
        return self.proc.pid if self.proc is not None else None

    async def _run_once(self, stop: asyncio.Event) -> int:
        self.proc = proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "fleetwatch.engine.notify.child",
            stdin=asyncio.subprocess.PIPE,
        )  # fmt: skip
        self.starts += 1
        log.info("notifications: delivery process started (pid %d)", proc.pid)
        assert proc.stdin is not None
        proc.stdin.write(self.settings.encode())
        with contextlib.suppress(ConnectionError):
            await proc.stdin.drain()
        exited = asyncio.ensure_future(proc.wait())
        stopping = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait([exited, stopping], return_when=asyncio.FIRST_COMPLETED)
        finally:
            stopping.cancel()
        if not exited.done():
            await self._stop_child(proc, exited)
        return exited.result()

    async def _stop_child(
        self, proc: asyncio.subprocess.Process, exited: asyncio.Future[int]
    ) -> None:
        assert proc.stdin is not None
        proc.stdin.close()  # end of file: the child finishes its sends and exits
        for wait, then in ((self.grace, signal.SIGTERM), (2.0, signal.SIGKILL)):
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(wait):
                    await asyncio.shield(exited)
                return
            with contextlib.suppress(ProcessLookupError):
                proc.send_signal(then)
        await exited
