"""Sending spooled documents to the hub, in order, with backoff and jitter between failures.

Each document goes gzip-compressed (``Content-Encoding: gzip``: a ~1.2 KB document becomes
about a third of that) on the one kept-alive connection of ``HubConnection``.
"""

from __future__ import annotations

import base64
import gzip
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from fleetwatch.agent.connection import HubConnection, Unreachable
from fleetwatch.agent.spool import Spool

log = logging.getLogger(__name__)

SUBMIT_STATS = "/api/external/submit_stats"
# Level 6 (zlib's default) is within a few bytes of 9 on a document this small, for less CPU.
GZIP_LEVEL = 6


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
    def __init__(self, connection: HubConnection, token: str) -> None:
        self.connection = connection
        basic = base64.b64encode(b":" + token.encode("utf-8")).decode("ascii")
        self.headers = {
            "Authorization": f"Basic {basic}",
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",
        }

    def send(self, body: bytes) -> bool:
        """True once the hub has committed the document; False to retry later."""
        packed = gzip.compress(body, compresslevel=GZIP_LEVEL, mtime=0)
        try:
            status, answer = self.connection.request("PUT", SUBMIT_STATS, packed, self.headers)
        except Unreachable as exc:
            log.warning("hub unreachable (%s): keeping the document for later", exc)
            return False
        if status == 200:
            return True
        reason = _reason(answer)
        if status in (401, 403):
            raise Rejected(f"the hub refused the token ({status}): {reason}")
        if status in (400, 413):
            # A document the hub will never take: drop it rather than block the queue.
            log.error("the hub refused a document (%s): %s", status, reason)
            return True
        log.warning("hub answered %s (%s): retrying later", status, reason)
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


def _reason(answer: bytes) -> str:
    try:
        data = json.loads(answer)
    except ValueError:
        return answer[:200].decode("utf-8", "replace")
    if isinstance(data, dict):
        return str(data.get("error") or data.get("message") or data)
    return str(data)
