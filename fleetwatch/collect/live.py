"""The background collection loop and the latest stats it keeps, encoded once per refresh.

Readers never wait on a collection: each refresh builds every plugin's stats in a worker
thread, encodes them to JSON once, and swaps the new state in on the event loop, where
requests read it. Only the very first request after start waits for the first refresh.
"""

from __future__ import annotations

import asyncio
import gzip
import logging
import re
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import orjson

from fleetwatch.collect.base import CollectContext, Collector
from fleetwatch.collect.processes import extended_stats
from fleetwatch.model.history import History
from fleetwatch.model.limits import Limits, is_true
from fleetwatch.model.plugin import PluginSpec
from fleetwatch.model.rates import RateTracker
from fleetwatch.model.views import build_views

log = logging.getLogger(__name__)

# The first published collection measures over this window, so that CPU percentages and
# rates are real on the very first request instead of zeros.
PRIMING_SECONDS = 0.5
GZIP_MIN_BYTES = 1024


def dumps(value: Any) -> bytes:
    return orjson.dumps(value, option=orjson.OPT_NON_STR_KEYS | orjson.OPT_SERIALIZE_NUMPY)


@dataclass(slots=True)
class PluginState:
    """One plugin's stats as of one collection, with lazily built derived forms."""

    spec: PluginSpec
    stats: Any
    body: bytes
    limits: Limits
    _views: Any = None
    _gzip: bytes | None = None

    @property
    def views(self) -> Any:
        if self._views is None:
            self._views = build_views(self.spec, self.stats, self.limits)
        return self._views

    def gzipped(self) -> bytes:
        if self._gzip is None:
            self._gzip = gzip.compress(self.body, compresslevel=5, mtime=0)
        return self._gzip


@dataclass(slots=True)
class Published:
    """Everything a reader needs, swapped in as one reference after each collection."""

    states: dict[str, PluginState]
    all_body: bytes
    collected_at: float
    _all_gzip: bytes | None = field(default=None)

    def all_gzipped(self) -> bytes:
        if self._all_gzip is None:
            self._all_gzip = gzip.compress(self.all_body, compresslevel=5, mtime=0)
        return self._all_gzip


def all_body(states: dict[str, PluginState]) -> bytes:
    """``/api/4/all``: the plugins' encoded bodies joined, without encoding anything again."""
    parts = [b'"' + name.encode() + b'":' + states[name].body for name in sorted(states)]
    return b"{" + b",".join(parts) + b"}"


def _compile(patterns: Any) -> list[re.Pattern[str]]:
    if not isinstance(patterns, list):
        return []
    return [re.compile(p, re.IGNORECASE) for p in patterns if p]


class LiveStats:
    """Runs every collector at its refresh interval and keeps the latest stats and history."""

    def __init__(
        self,
        collectors: list[Collector],
        limits: dict[str, Limits],
        refresh: float,
        history_size: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._collectors = collectors
        self.limits = limits
        self.refresh = refresh
        self._clock = clock
        self.specs = {c.spec.name: c.spec for c in collectors}
        self._rates = {c.spec.name: RateTracker(c.spec.rate_fields, c.spec.key) for c in collectors}
        self.history = {name: History(history_size) for name in self.specs}
        self._last_run: dict[str, float] = {}
        self._latest: dict[str, Any] = {}
        self._hide = {
            name: _compile(limits.get(name, {}).get(f"{name}_hide")) for name in self.specs
        }
        self._show = {
            name: _compile(limits.get(name, {}).get(f"{name}_show")) for name in self.specs
        }
        self.extended_pid: int | None = None
        # Called on the event loop after each collection with the full latest stats; what it
        # returns becomes the ``alert`` plugin (the alert engine plugs in here).
        self.evaluator: Callable[[dict[str, Any], dict[str, Limits], float], Any] | None = None
        self.published: Published | None = None
        self.ready = asyncio.Event()
        self.collections = 0

    def disabled(self, name: str) -> bool:
        return is_true(self.limits.get(name, {}).get(f"{name}_disable"))

    def _due(self, spec: PluginSpec, now: float) -> bool:
        """Gathered every round, unless a ``<plugin>_refresh`` limit says less often."""
        last = self._last_run.get(spec.name)
        every = self.limits.get(spec.name, {}).get(spec.refresh_limit or "", None)
        # Limits are floats, but the reference's own system_refresh default is the integer 60.
        if last is None or not isinstance(every, int | float) or isinstance(every, bool):
            return True
        # A little slack so that a plugin due every 60 s is not skipped by a round 1 ms early.
        return now - last >= every - min(0.25, self.refresh / 4)

    def _visible(self, spec: PluginSpec, item: dict[str, Any]) -> bool:
        name = str(item.get(spec.key or "", ""))
        show = self._show[spec.name]
        if show:
            return any(p.fullmatch(name) for p in show)
        return not any(p.fullmatch(name) for p in self._hide[spec.name])

    def gather(self) -> dict[str, Any]:
        """One collection round (runs in a worker thread): the fresh stats of due plugins."""
        now = self._clock()
        ctx = CollectContext(now=now, limits=self.limits, results=dict(self._latest))
        fresh: dict[str, Any] = {}
        for collector in self._collectors:
            spec = collector.spec
            if self.disabled(spec.name):
                ctx.results[spec.name] = fresh[spec.name] = spec.empty()
                continue
            if not self._due(spec, now):
                continue
            try:
                stats = collector.collect(ctx)
            except Exception:
                # One broken sensor must not stop the others; keep its previous figures.
                log.exception("collecting %s failed", spec.name)
                continue
            if isinstance(stats, list) and spec.key is not None:
                stats = [item for item in stats if self._visible(spec, item)]
            stats = self._rates[spec.name].apply(stats, now)
            self._last_run[spec.name] = now
            ctx.results[spec.name] = fresh[spec.name] = stats
        self._add_extended(fresh)
        return {"now": now, "fresh": fresh}

    def _add_extended(self, fresh: dict[str, Any]) -> None:
        pid = self.extended_pid
        procs = fresh.get("processlist")
        if pid is None or not procs:
            return
        for proc in procs:
            if proc["pid"] == pid:
                try:
                    proc.update(extended_stats(pid))
                except Exception:
                    log.debug("no extended stats for pid %s", pid)
                break

    def publish(self, round_: dict[str, Any]) -> None:
        """Swap in a collection's results (on the event loop thread) and record history."""
        now: float = round_["now"]
        fresh: dict[str, Any] = round_["fresh"]
        self._latest.update(fresh)
        if self.evaluator is not None and not self.disabled("alert"):
            fresh["alert"] = self._latest["alert"] = self.evaluator(self._latest, self.limits, now)
        previous = self.published.states if self.published else {}
        states: dict[str, PluginState] = {}
        for name, spec in self.specs.items():
            if name in fresh:
                stats = fresh[name]
                states[name] = PluginState(spec, stats, dumps(stats), self.limits.get(name, {}))
                self.history[name].record(stats, now, spec.history, spec.key)
            elif name in previous:
                states[name] = previous[name]
            else:
                empty = spec.empty()
                states[name] = PluginState(spec, empty, dumps(empty), self.limits.get(name, {}))
        self.published = Published(states, all_body(states), now)
        self.collections += 1
        self.ready.set()

    def latest(self) -> dict[str, Any]:
        """Every plugin's most recent stats (a shallow copy, for readers off the hot path)."""
        return dict(self._latest)

    def replace(self, name: str, stats: Any) -> None:
        """Swap in new stats for one plugin between collections (e.g. events just cleared)."""
        if self.published is None:
            return
        self._latest[name] = stats
        spec = self.specs[name]
        states = dict(self.published.states)
        states[name] = PluginState(spec, stats, dumps(stats), self.limits.get(name, {}))
        self.published = Published(states, all_body(states), self.published.collected_at)

    async def run(self, stop: asyncio.Event) -> None:
        """Collect until ``stop`` is set: prime, wait a short window, then every ``refresh``."""
        await asyncio.to_thread(self.gather)
        # The priming round only sets baselines; every plugin is due again in the first real one.
        self._last_run.clear()
        delay = PRIMING_SECONDS
        while not stop.is_set():
            try:
                await asyncio.wait_for(stop.wait(), timeout=delay)
                break
            except TimeoutError:
                pass
            started = time.monotonic()
            self.publish(await asyncio.to_thread(self.gather))
            delay = max(0.0, self.refresh - (time.monotonic() - started))

    async def current(self, wait_seconds: float = 10.0) -> Published:
        """The latest published stats; waits only until the first collection exists."""
        if self.published is None:
            await asyncio.wait_for(self.ready.wait(), wait_seconds)
        assert self.published is not None
        return self.published
