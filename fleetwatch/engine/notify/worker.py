"""The delivery worker: claims due deliveries, sends them, records every attempt.

Each channel is served on its own: at most ``concurrency`` of its deliveries are in flight, each
bounded by ``timeout``, so a slow or failing channel holds up nothing but itself, and never
ingestion (the worker only reads and writes its own rows). A failed attempt is tried again after
an exponential backoff (``RetryPolicy``); the last one marks the delivery failed.

A claim is a lease: a hub that dies (``kill -9``) holding deliveries loses them when it runs
out, and they are claimed again, by this hub after its restart or by another; with several
hubs on one PostgreSQL database the claim (``FOR UPDATE SKIP LOCKED``) gives each row to one.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from fleetwatch.engine.notify.channels import Senders, SendResult
from fleetwatch.store.base import Store
from fleetwatch.store.errors import StoreError
from fleetwatch.store.notify import AttemptRecord, ChannelRecord, DeliveryRecord

__all__ = ["DeliveryWorker", "RetryPolicy"]

log = logging.getLogger(__name__)

_HELD = 4  # claimed deliveries per channel, in multiples of its concurrency


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Wait ``first`` seconds after the first failure, doubling up to ``longest``; give up
    once the next try would fall ``give_up_after`` seconds after the delivery was made."""

    first: float = 10.0
    longest: float = 3600.0
    give_up_after: float = 86400.0

    def next_try(self, created_at: float, attempts: int, now: float) -> float | None:
        """When to try again after ``attempts`` failed ones; None: give up."""
        delay = min(self.first * 2 ** max(attempts - 1, 0), self.longest)
        at = now + delay
        return at if at <= created_at + self.give_up_after else None


class DeliveryWorker:
    def __init__(
        self,
        store: Store,
        senders: Senders,
        *,
        retry: RetryPolicy | None = None,
        concurrency: int = 4,
        timeout: float = 10.0,
        poll_seconds: float = 0.5,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.senders = senders
        self.retry = retry or RetryPolicy()
        self.concurrency = concurrency
        self.timeout = timeout
        self.poll_seconds = poll_seconds
        self.clock = clock
        self.token_prefix = f"{secrets.token_hex(4)}.{os.getpid():x}"
        self._claims = 0
        # Claimed deliveries, sending or waiting for one of the channel's ``concurrency``
        # slots; a channel holds at most ``_HELD`` times that many.
        self._in_flight: dict[int, set[asyncio.Task[None]]] = {}
        self._slots: dict[int, asyncio.Semaphore] = {}
        self.wakeup = asyncio.Event()
        self._channel_list: list[ChannelRecord] = []
        self._channels_read_at = -float("inf")

    async def run(self, stop: asyncio.Event) -> None:
        try:
            while not stop.is_set():
                self.wakeup.clear()
                try:
                    await self.run_once()
                except StoreError as exc:
                    log.warning("notifications: the store failed (%s); trying again", exc)
                with contextlib.suppress(TimeoutError):
                    async with asyncio.timeout(self.poll_seconds):
                        await _either(stop, self.wakeup)
        finally:
            await self.drain()

    async def run_once(self) -> int:
        """Claim what each channel has room for and start sending it; how many started."""
        started = 0
        for channel in await self._channels():
            running = self._in_flight.setdefault(channel.id, set())
            slots = self._slots.setdefault(channel.id, asyncio.Semaphore(self.concurrency))
            room = self.concurrency * _HELD - len(running)
            if room < self.concurrency:  # claim in batches, not one row per finished send
                continue
            now = self.clock()
            self._claims += 1
            token = f"{self.token_prefix}.{self._claims:x}"
            # The lease outlives the sends of everything held (each bounded by the timeout) by
            # a margin, so a live hub never loses one.
            lease = now + self.timeout * (_HELD + 1) + 30
            claimed = await self.store.claim_deliveries(
                channel.id, now=now, lease_until=lease, token=token, limit=room
            )
            for delivery in claimed:
                task = asyncio.create_task(self._deliver(channel, delivery, token, slots))
                running.add(task)
                task.add_done_callback(running.discard)
            started += len(claimed)
        return started

    async def _channels(self) -> list[ChannelRecord]:
        # Woken after every send under load: the list is read again once a poll period.
        now = time.monotonic()
        if now - self._channels_read_at >= self.poll_seconds:
            self._channel_list = await self.store.list_channels()
            self._channels_read_at = now
        return self._channel_list

    async def drain(self) -> None:
        """Wait for the sends in flight (shutdown, tests)."""
        tasks = [t for running in self._in_flight.values() for t in running]
        if tasks:
            for outcome in await asyncio.gather(*tasks, return_exceptions=True):
                if isinstance(outcome, Exception):
                    log.error("notification send failed: %r", outcome)

    async def _deliver(
        self,
        channel: ChannelRecord,
        delivery: DeliveryRecord,
        token: str,
        slots: asyncio.Semaphore,
    ) -> None:
        async with slots:  # the channel's concurrency bounds its sends, not their records
            began, started = self.clock(), time.monotonic()
            result = await self._send(channel, delivery)
            seconds = time.monotonic() - started
        await self._record(channel, delivery, token, result, began, seconds)
        self.wakeup.set()  # room for more: claim again now, not at the next poll

    async def _send(self, channel: ChannelRecord, delivery: DeliveryRecord) -> SendResult:
        try:
            async with asyncio.timeout(self.timeout):
                return await self.senders.send(channel, delivery)
        except TimeoutError:
            return SendResult(False, None, f"no answer within {self.timeout:g} s")
        except Exception as exc:  # a service plugin's bug fails this attempt, not the worker
            log.exception("notification %s to %s: the sender failed", delivery.id, channel.name)
            return SendResult(False, None, f"the sender failed: {type(exc).__name__}")

    async def _record(
        self,
        channel: ChannelRecord,
        delivery: DeliveryRecord,
        token: str,
        result: SendResult,
        began: float,
        seconds: float,
    ) -> None:
        attempts = delivery.attempts + 1
        if result.ok:
            status, due = "sent", began
        else:
            next_try = self.retry.next_try(delivery.created_at, attempts, self.clock())
            status, due = ("pending", next_try) if next_try is not None else ("failed", began)
            log.info("notification %s to %s: attempt %d failed (%s)%s", delivery.id,
                     channel.name, attempts, result.status_code or result.detail[:100],
                     "" if next_try is not None else "; giving up")  # fmt: skip
        attempt = AttemptRecord(0, delivery.id, began, "sent" if result.ok else "error",
                                result.status_code, result.detail, round(seconds, 4))  # fmt: skip
        try:
            await self.store.finish_attempt(delivery, token, attempt, status=status, due_at=due)
        except StoreError as exc:
            # The lease runs out and the delivery is tried again: at least once, never lost.
            log.warning("notification %s: could not record its attempt: %s", delivery.id, exc)


async def _either(stop: asyncio.Event, wakeup: asyncio.Event) -> None:
    waits = [asyncio.ensure_future(stop.wait()), asyncio.ensure_future(wakeup.wait())]
    try:
        await asyncio.wait(waits, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for wait in waits:
            wait.cancel()
