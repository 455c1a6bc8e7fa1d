"""``GET /metrics``: the fleet, its passive checks and the hub itself for Prometheus.

Rendered with ``prometheus_client`` (a custom collector over a frozen view of the fleet) in the
Prometheus text format, or OpenMetrics when the scraper asks for it. A scrape never waits on
the database or on the rendering: a background task rebuilds both encodings every
``metrics.refresh_seconds`` while someone scrapes (and for ``IDLE_SECONDS`` after), and a
request writes the cached bytes. Only the very first scrape waits for a build.

The systems' stats come from ``LatestStats``: each accepted submission puts its stats there,
and a rebuild reads from the store only the systems whose ``last_seen`` is newer than what it
holds (another hub sharing PostgreSQL took them, or the hub just started).
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import logging
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import orjson
from prometheus_client import exposition
from prometheus_client.core import GaugeMetricFamily, Metric
from starlette.requests import Request
from starlette.responses import Response

from fleetwatch.api.errors import ApiError
from fleetwatch.api.fleet_latest import FleetLatest
from fleetwatch.api.guard import Guard
from fleetwatch.api.metrics_checks import check_families, event_families
from fleetwatch.api.metrics_instruments import HubInstruments
from fleetwatch.api.metrics_systems import Families, SystemView, system_families
from fleetwatch.api.shapes import glances_error
from fleetwatch.auth.permissions import VIEW_STATISTICS
from fleetwatch.store import EventRecord, Store, StoreError
from fleetwatch.store.checks import CheckObject

__all__ = ["MetricsExposition"]

log = logging.getLogger(__name__)

IDLE_SECONDS = 300.0  # rebuilds stop this long after the last scrape
# A rebuild waits at least this many times its own last duration: 10,000 systems take seconds
# to render (23 MB of text), and rebuilding them every 5 s kept most of a core busy.
PACE = 10.0
OPEN_EVENTS_LIMIT = 100_000  # counted per scrape; far above any fleet's open events
TEXT_TYPE = exposition.CONTENT_TYPE_PLAIN_0_0_4
OPENMETRICS_TYPE = "application/openmetrics-text; version=1.0.0; charset=utf-8"


@dataclass(frozen=True, slots=True)
class Rendered:
    """Both encodings, plain and gzipped (Prometheus asks for gzip: a tenth of the bytes)."""

    text: bytes
    openmetrics: bytes
    text_gzip: bytes
    openmetrics_gzip: bytes
    built_at: float


@dataclass(frozen=True, slots=True)
class _Inputs:
    """What one rendering reads, gathered on the event loop; rendered in a worker thread."""

    systems: list[SystemView]
    checks: list[CheckObject]
    events: list[EventRecord]
    names: dict[int, str]
    pending_writes: int
    size_bytes: int


class _Rendering:
    """A ``prometheus_client`` collector over one ``_Inputs`` and the hub's instruments."""

    def __init__(self, inputs: _Inputs, instruments: HubInstruments) -> None:
        self._inputs = inputs
        self._instruments = instruments

    def collect(self) -> Iterator[Metric]:
        inputs = self._inputs
        out = Families()
        for view in inputs.systems:
            system_families(out, view)
        check_families(out, inputs.checks)
        event_families(out, inputs.events, inputs.names)
        yield from out
        yield GaugeMetricFamily("fleetwatch_store_write_queue_depth",
                                "Writes accepted and not yet committed.",
                                value=inputs.pending_writes)  # fmt: skip
        size = "What the database takes on disk."
        yield GaugeMetricFamily("fleetwatch_store_size_bytes", size, value=inputs.size_bytes)
        yield from self._instruments.registry.collect()


class MetricsExposition:
    def __init__(
        self,
        guard: Guard,
        store: Store,
        fleet: FleetLatest,
        instruments: HubInstruments,
        *,
        refresh_seconds: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.guard = guard
        self.store = store
        self.fleet = fleet
        self.instruments = instruments
        self.refresh_seconds = refresh_seconds
        self._clock = clock
        self._rendered: Rendered | None = None
        self._building: asyncio.Lock = asyncio.Lock()
        self._last_scrape = -IDLE_SECONDS
        self._wanted = asyncio.Event()

    async def endpoint(self, request: Request) -> Response:
        try:
            await self.guard.require(request, VIEW_STATISTICS)
        except ApiError as exc:
            return _error(exc)
        self._last_scrape = self._clock()
        self._wanted.set()
        rendered = self._rendered or await self.rebuild()
        gzipped = "gzip" in request.headers.get("accept-encoding", "")
        headers = {"vary": "accept, accept-encoding"}
        if gzipped:
            headers["content-encoding"] = "gzip"
        if "application/openmetrics-text" in request.headers.get("accept", ""):
            body = rendered.openmetrics_gzip if gzipped else rendered.openmetrics
            return Response(body, media_type=OPENMETRICS_TYPE, headers=headers)
        body = rendered.text_gzip if gzipped else rendered.text
        return Response(body, media_type=TEXT_TYPE, headers=headers)

    async def rebuild(self) -> Rendered:
        """Gather the fleet, then encode it in a worker thread; one build at a time."""
        async with self._building:
            if self._rendered is not None and self._clock() - self._rendered.built_at < 0.05:
                return self._rendered  # built while this caller waited for the lock
            rendering = _Rendering(await self._inputs(), self.instruments)
            # Building the families and encoding them is pure CPU (a quarter of a second for
            # 1,000 systems): off the event loop, so requests keep being answered meanwhile.
            self._rendered = await asyncio.to_thread(_encode, rendering, self._clock())
            return self._rendered

    async def run(self, stop: asyncio.Event) -> None:
        """Rebuild every ``refresh_seconds`` while scraped; sleep while nobody scrapes."""
        while not stop.is_set():
            idle = self._clock() - self._last_scrape > IDLE_SECONDS
            if idle:
                self._rendered = None  # a scrape after a quiet spell gets fresh figures
                self._wanted.clear()
                waiting = asyncio.ensure_future(self._wanted.wait())
                stopping = asyncio.ensure_future(stop.wait())
                await asyncio.wait({waiting, stopping}, return_when=asyncio.FIRST_COMPLETED)
                waiting.cancel()
                stopping.cancel()
                continue
            started = time.monotonic()
            try:
                await self.rebuild()
            except StoreError as exc:
                log.warning("/metrics not rebuilt: %s", exc)
            took = time.monotonic() - started
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), timeout=max(self.refresh_seconds, PACE * took))

    async def _inputs(self) -> _Inputs:
        systems = await self.store.list_systems()
        return _Inputs(
            systems=await self.fleet.views(systems),
            checks=await self.store.list_check_objects(),
            events=await self.store.list_events(open_only=True, limit=OPEN_EVENTS_LIMIT),
            names={s.id: s.name for s in systems},  # the checks' owner too: it has events
            pending_writes=self.store.pending_writes,
            size_bytes=await self.store.size_bytes(),
        )


def _error(exc: ApiError) -> Response:
    # The Glances API's error shape: the hub's other read route of this kind.
    status, body, headers = glances_error(exc)
    return Response(orjson.dumps(body), status, media_type="application/json",
                    headers={k.decode(): v.decode() for k, v in headers})  # fmt: skip


def _encode(rendering: _Rendering, now: float) -> Rendered:
    # choose_encoder is the typed way to the OpenMetrics encoder (the module's own is not typed).
    to_openmetrics, _ = exposition.choose_encoder(OPENMETRICS_TYPE)
    text = exposition.generate_latest(rendering)
    openmetrics = to_openmetrics(rendering)
    # Level 1: a third of level 6's time for a few percent more bytes, rendered every refresh.
    text_gzip, openmetrics_gzip = gzip.compress(text, 1), gzip.compress(openmetrics, 1)
    return Rendered(text, openmetrics, text_gzip, openmetrics_gzip, now)
