"""Sending spooled documents to the hub, in order, with backoff and jitter between failures."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

import httpx

from fleetwatch.agent.spool import Spool

log = logging.getLogger(__name__)


class Rejected(RuntimeError):
    """The hub refused the credentials or the document: retrying will not help."""


@dataclass
class Backoff:
    """Exponential backoff with full jitter, capped, reset on success."""

    base: float = 1.0
    cap: float = 300.0
    failures: int = 0

    def next_delay(self) -> float:
        self.failures += 1
        return random.uniform(0, min(self.cap, self.base * 2 ** min(self.failures, 16)))

    def reset(self) -> None:
        self.failures = 0


class Sender:
    def __init__(self, hub: str, token: str, client: httpx.Client) -> None:
        self.url = hub.rstrip("/") + "/api/external/submit_stats"
        self.token = token
        self.client = client

    def send(self, body: bytes) -> bool:
        """True once the hub has committed the document; False to retry later."""
        try:
            response = self.client.put(
                self.url, content=body, auth=("", self.token),
                headers={"content-type": "application/json"},
            )  # fmt: skip
        except httpx.HTTPError as exc:
            log.warning("hub unreachable (%s): keeping the document for later", exc)
            return False
        if response.status_code == 200:
            return True
        reason = _reason(response)
        if response.status_code in (401, 403):
            raise Rejected(f"the hub refused the token ({response.status_code}): {reason}")
        if response.status_code in (400, 413):
            # A document the hub will never take: drop it rather than block the queue.
            log.error("the hub refused a document (%s): %s", response.status_code, reason)
            return True
        log.warning("hub answered %s (%s): retrying later", response.status_code, reason)
        return False

    def drain(self, spool: Spool, backoff: Backoff, sleep: Callable[[float], None] = time.sleep,
              deadline: float | None = None) -> bool:  # fmt: skip
        """Send everything spooled, oldest first; False if the hub is still failing."""
        while (item := spool.oldest()) is not None:
            path, body = item
            if self.send(body):
                spool.remove(path)
                backoff.reset()
                continue
            delay = backoff.next_delay()
            if deadline is not None and time.monotonic() + delay > deadline:
                return False
            sleep(delay)
        return True


def _reason(response: httpx.Response) -> str:
    try:
        data = response.json()
    except ValueError:
        return response.text[:200]
    if isinstance(data, dict):
        return str(data.get("error") or data.get("message") or data)
    return str(data)
