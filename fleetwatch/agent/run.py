"""The push loop: measure, spool, send everything spooled, sleep until the next interval."""

from __future__ import annotations

import logging
import ssl
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import orjson

from fleetwatch.agent.document import DocumentBuilder
from fleetwatch.agent.sender import Backoff, Sender
from fleetwatch.agent.spool import Spool

log = logging.getLogger(__name__)

# Rates (network, disk, CPU) need two readings: the first document waits this long after the
# baseline instead of reporting zeros.
FIRST_WINDOW_SECONDS = 1.0


@dataclass(frozen=True, slots=True)
class PushOptions:
    hub: str
    token: str
    interval: float
    once: bool
    spool_dir: Path
    spool_size: int = 1000
    insecure: bool = False
    cafile: str | None = None
    timeout: float = 10.0


def _verify(options: PushOptions) -> ssl.SSLContext | bool:
    if options.insecure:
        return False
    if options.cafile:
        return ssl.create_default_context(cafile=options.cafile)
    return True


def push(options: PushOptions, stop: Callable[[], bool] = lambda: False) -> bool:
    """Run until ``stop()`` (or once); True when everything measured reached the hub.

    Raises ``Rejected`` when the hub refuses the token: retrying cannot help.
    """
    spool = Spool(options.spool_dir, options.spool_size)
    builder = DocumentBuilder()
    builder.build()
    time.sleep(FIRST_WINDOW_SECONDS)
    backoff = Backoff(cap=max(options.interval, 1.0))
    with httpx.Client(verify=_verify(options), timeout=options.timeout) as client:
        sender = Sender(options.hub, options.token, client)
        while True:
            started = time.monotonic()
            spool.put(orjson.dumps(builder.build()))
            if options.once:
                return sender.drain(spool, Backoff(base=0.5, cap=2.0), deadline=started + 10)
            delivered = sender.drain(spool, backoff, deadline=started + options.interval)
            if not delivered:
                log.warning("%d document(s) waiting in %s for the hub", len(spool), spool.directory)
            while not stop() and time.monotonic() < started + options.interval:
                time.sleep(min(0.5, started + options.interval - time.monotonic()))
            if stop():
                return delivered
