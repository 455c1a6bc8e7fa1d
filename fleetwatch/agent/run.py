"""The push loop: measure, spool, send everything spooled, sleep until the next interval."""

from __future__ import annotations

import json
import logging
import math
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from fleetwatch.agent.connection import HubConnection
from fleetwatch.agent.document import DocumentBuilder
from fleetwatch.agent.sender import Backoff, Sender
from fleetwatch.agent.spool import Spool

if TYPE_CHECKING:
    import ssl

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
    http1: bool = False


def _tls(options: PushOptions) -> ssl.SSLContext | None:
    """The TLS context for an https:// hub (None for http://): the system's CAs, or
    ``cafile``'s, or none checked with ``insecure``."""
    if not options.hub.lower().startswith("https:"):
        return None
    import ssl  # noqa: PLC0415 - a few MiB of the agent's memory, for https:// hubs only

    if options.insecure:
        context = ssl.create_default_context()
        context.check_hostname = False
        context.verify_mode = ssl.CERT_NONE
        return context
    return ssl.create_default_context(cafile=options.cafile)


def push(options: PushOptions, stop: Callable[[], bool] = lambda: False) -> bool:
    """Run until ``stop()`` (or once); True when everything measured reached the hub.

    Raises ``Rejected`` when the hub refuses the token: retrying cannot help.
    """
    connection = HubConnection(options.hub, _tls(options), options.timeout, options.http1)
    spool = Spool(options.spool_dir, options.spool_size)
    builder = DocumentBuilder()
    builder.build()
    time.sleep(FIRST_WINDOW_SECONDS)
    backoff = Backoff(cap=max(options.interval, 1.0))
    sender = Sender(connection, options.token)
    try:
        while True:
            started = time.monotonic()
            spool.put(encode(builder.build()))
            if options.once:
                return sender.drain(spool, Backoff(base=0.5, cap=2.0), deadline=started + 10)
            delivered = sender.drain(spool, backoff, deadline=started + options.interval)
            if not delivered:
                log.warning("%d document(s) waiting in %s for the hub", len(spool), spool.directory)
            while not stop() and time.monotonic() < started + options.interval:
                time.sleep(min(0.5, started + options.interval - time.monotonic()))
            if stop():
                return delivered
    finally:
        connection.close()


def encode(document: dict[str, Any]) -> bytes:
    """The document as compact JSON, a non-finite number (which JSON cannot hold) as null.

    The standard library's json: orjson would be one more library in the agent's memory
    for one ~1 KB document a minute.
    """
    try:
        text = json.dumps(document, separators=(",", ":"), ensure_ascii=False, allow_nan=False)
    except ValueError:
        text = json.dumps(_finite(document), separators=(",", ":"), ensure_ascii=False)
    return text.encode("utf-8")


def _finite(value: Any) -> Any:
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    return value
