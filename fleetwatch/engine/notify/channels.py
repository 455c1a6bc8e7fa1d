"""Channels: where messages go, and how each kind is sent.

A channel is an Apprise URL (``tgram://...``, ``mailto://...``, ``ntfy://...``, ``json://...``,
100+ services) or the hub's own webhook, ``webhook+https://receiver/path``: a JSON POST
(``webhook_body``) signed with HMAC-SHA256 over ``<timestamp>.<body>`` with the channel's
secret, and an ``Idempotency-Key`` that stays the same across retries of one delivery.

Channel URLs hold secrets (tokens, passwords): ``mask_url`` is all that is ever shown again.
Apprise sends block, so they run in a thread pool of each channel's own, off the event loop,
and a slow service only ties up its own threads.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import logging
import re
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

import orjson

from fleetwatch import __version__
from fleetwatch.store.notify import ChannelRecord, DeliveryRecord

if TYPE_CHECKING:  # loaded by the first webhook sent: a hub without one never holds httpx
    import httpx

__all__ = [
    "SCHEMA",
    "ChannelError",
    "SendResult",
    "Senders",
    "check_url",
    "mask_url",
    "new_secret",
    "sign",
]

log = logging.getLogger(__name__)

SCHEMA = "fleetwatch.notification/1"
WEBHOOK_SCHEMES = ("webhook+http", "webhook+https")
MAX_URL = 2000
MAX_DETAIL = 500
_SCHEME = re.compile(r"^([a-z][a-z0-9+.-]*)://", re.IGNORECASE)


class ChannelError(ValueError):
    """A channel URL that cannot be used."""


@dataclass(frozen=True, slots=True)
class SendResult:
    ok: bool
    status_code: int | None
    detail: str


def mask_url(url: str) -> str:
    """``tgram://***``: the scheme alone; the rest may hold a token or a password."""
    match = _SCHEME.match(url)
    return f"{match[1].lower()}://***" if match else "***"


def is_webhook(url: str) -> bool:
    return url.lower().startswith(tuple(f"{s}://" for s in WEBHOOK_SCHEMES))


def new_secret() -> str:
    return secrets.token_urlsafe(32)


def check_url(url: str) -> None:
    """``ChannelError`` unless ``url`` is a webhook URL or one Apprise knows."""
    if not isinstance(url, str) or not url or len(url) > MAX_URL:
        raise ChannelError(f"must be a URL of at most {MAX_URL} characters")
    if is_webhook(url):
        try:
            host = urlsplit(url.split("+", 1)[1]).hostname
        except ValueError:
            host = None
        if not host:
            raise ChannelError("must name the receiver: webhook+https://host/path")
        return
    import apprise  # noqa: PLC0415 - a second's import, paid when a channel is first used

    if not apprise.Apprise().add(url):
        raise ChannelError(f"is not a URL Apprise knows ({mask_url(url)})")


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The ``X-Fleetwatch-Signature`` value: ``v1=`` and HMAC-SHA256(secret, ts + "." + body)."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return f"v1={mac.hexdigest()}"


def webhook_body(channel: ChannelRecord, delivery: DeliveryRecord) -> bytes:
    """The webhook's JSON body (its schema is in the README)."""
    event = {k: v for k, v in delivery.payload.items() if k != "title"}
    return orjson.dumps({
        "schema": SCHEMA, "idempotency_key": delivery.idempotency_key,
        "delivery_id": delivery.id, "channel": channel.name, "rule": delivery.rule_name,
        "phase": delivery.phase, "title": delivery.title, "body": delivery.body,
        "event": event,
    })  # fmt: skip


class Senders:
    """Sends one delivery on its channel; one ``httpx`` client and a thread pool per channel."""

    def __init__(self, *, timeout: float = 10.0, concurrency: int = 4) -> None:
        self.timeout = timeout
        self.concurrency = concurrency
        self._http: httpx.AsyncClient | None = None
        self._pools: dict[int, ThreadPoolExecutor] = {}

    async def close(self) -> None:
        if self._http is not None:
            await self._http.aclose()
        for pool in self._pools.values():
            pool.shutdown(wait=False, cancel_futures=True)
        self._pools.clear()

    async def send(self, channel: ChannelRecord, delivery: DeliveryRecord) -> SendResult:
        try:
            if is_webhook(channel.url):
                return await self._webhook(channel, delivery)
            return await self._apprise(channel, delivery)
        except OSError as exc:  # httpx's own errors are caught in _webhook
            return SendResult(False, None, _scrub(f"{type(exc).__name__}: {exc}", channel))

    async def _webhook(self, channel: ChannelRecord, delivery: DeliveryRecord) -> SendResult:
        import httpx  # noqa: PLC0415 - see the import at the top

        try:
            return await self._post(channel, delivery)
        except httpx.HTTPError as exc:
            return SendResult(False, None, _scrub(f"{type(exc).__name__}: {exc}", channel))

    async def _post(self, channel: ChannelRecord, delivery: DeliveryRecord) -> SendResult:
        import httpx  # noqa: PLC0415 - see the import at the top

        if self._http is None:
            self._http = httpx.AsyncClient(timeout=self.timeout, follow_redirects=False)
        body = webhook_body(channel, delivery)
        timestamp = str(int(time.time()))
        headers = {
            "Content-Type": "application/json",
            "User-Agent": f"fleetwatch/{__version__}",
            "Idempotency-Key": delivery.idempotency_key,
            "X-Fleetwatch-Timestamp": timestamp,
            "X-Fleetwatch-Signature": sign(channel.secret, timestamp, body),
        }
        url = channel.url.split("+", 1)[1]
        response = await self._http.post(url, content=body, headers=headers)
        detail = response.text[:MAX_DETAIL]
        return SendResult(response.is_success, response.status_code, detail)

    async def _apprise(self, channel: ChannelRecord, delivery: DeliveryRecord) -> SendResult:
        pool = self._pools.get(channel.id)
        if pool is None:
            pool = self._pools[channel.id] = ThreadPoolExecutor(
                self.concurrency, thread_name_prefix=f"fleetwatch-notify-{channel.id}"
            )
        loop = asyncio.get_running_loop()
        ok, detail = await loop.run_in_executor(
            pool, _apprise_send, channel.url, delivery.title, delivery.body, self.timeout
        )
        return SendResult(ok, None, _scrub(detail, channel))


def _apprise_send(url: str, title: str, body: str, timeout: float) -> tuple[bool, str]:
    import apprise  # noqa: PLC0415 - not at start: the hub answers sooner after a restart

    sender = apprise.Apprise()
    if not sender.add(url):
        return False, "Apprise does not know this URL"
    for service in sender:
        # Bounded like the webhook: connect and read timeouts of the service's own requests.
        service.socket_connect_timeout = timeout
        service.socket_read_timeout = timeout
    with apprise.LogCapture(level=logging.INFO, fmt="%(message)s") as captured:  # type: ignore[no-untyped-call]
        ok = bool(sender.notify(body=body, title=title))
    lines = [line for line in str(captured.getvalue()).splitlines() if line.strip()]
    return ok, (lines[-1] if lines else ("sent" if ok else "not sent"))[:MAX_DETAIL]


def _scrub(text: str, channel: ChannelRecord) -> str:
    """Never let a channel's URL or secret into a stored detail (nor, so, a log)."""
    for secret in (channel.url, channel.secret, channel.url.split("://", 1)[-1]):
        if secret:
            text = text.replace(secret, "***")
    return text[:MAX_DETAIL]


def delivery_for_test(channel: ChannelRecord, now: float) -> DeliveryRecord:
    """A one-off message for ``notify test``: sent now, never stored."""
    title = f"Fleetwatch test message to {channel.name}"
    payload: dict[str, Any] = {"kind": "test", "phase": "test", "title": title}
    key = f"test-{secrets.token_hex(8)}"
    return DeliveryRecord(0, key, channel.id, channel.name, "", "test", now, now, "sending", 0,
                          title, "If you can read this, the channel works.", payload, "",
                          None)  # fmt: skip
