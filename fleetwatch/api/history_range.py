"""History of a pushed system over a time range, read at a resolution that fits the range.

``?since=&until=`` (epoch seconds or ISO 8601) and ``?range=`` (``90m``, ``12h``, ``30d``, or
seconds) on a ``/systems/<name>/api/4/.../history`` route choose the range. A short range is
served from raw snapshots; a longer one from the 1-minute rollups while that stays within
``history_size`` points; anything longer from the 1-hour rollups, so a 30-day chart reads about
720 rows, not every snapshot. A resolution whose retention no longer reaches back to ``since``
gives way to the next coarser one. The newest part of a range that the downsampling job has not
rolled up yet is filled from the next finer level, so a chart still ends at "now".
"""

from __future__ import annotations

import datetime as dt
import re
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import parse_qsl

from fleetwatch.api.errors import BadRequest
from fleetwatch.model.history import History
from fleetwatch.model.plugin import PluginSpec
from fleetwatch.model.rollup import HOUR, MINUTE
from fleetwatch.store import Store

__all__ = ["HistoryReader", "Retention", "parse_range", "pick_resolution"]

RAW = 0
RAW_SPAN_SECONDS = 3 * 3600.0  # at a 10 s push interval, 1,080 points
DAY = 86400.0
_UNITS = {"s": 1.0, "m": 60.0, "h": 3600.0, "d": DAY, "w": 7 * DAY}
_DURATION = re.compile(r"^(\d+(?:\.\d+)?)([smhdw]?)$")
_FINER = {HOUR: MINUTE, MINUTE: RAW}


@dataclass(frozen=True, slots=True)
class Retention:
    """Days each level is kept (0: forever) and the points a series may hold."""

    raw_days: float
    minute_days: float
    hour_days: float
    history_size: int

    def reaches(self, resolution: int, since: float, now: float) -> bool:
        days = {RAW: self.raw_days, MINUTE: self.minute_days, HOUR: self.hour_days}[resolution]
        return days <= 0 or since >= now - days * DAY


def pick_resolution(since: float, until: float, now: float, retention: Retention) -> int:
    """The finest level that answers ``[since, until)`` in few enough points and still
    holds ``since``; the 1-hour rollups when none does."""
    span = until - since
    if span <= RAW_SPAN_SECONDS and retention.reaches(RAW, since, now):
        return RAW
    if span / MINUTE <= retention.history_size and retention.reaches(MINUTE, since, now):
        return MINUTE
    return HOUR


def parse_range(query_string: bytes, now: float) -> tuple[float, float] | None:
    """``(since, until)`` from the query string; None when it names no range."""
    params = dict(parse_qsl(query_string.decode("latin-1")))
    if not {"since", "until", "range"} & params.keys():
        return None
    since = _instant(params["since"], "since") if "since" in params else None
    until = _instant(params["until"], "until") if "until" in params else None
    span = _duration(params["range"]) if "range" in params else None
    if since is not None and until is None and span is not None:
        until = since + span
    until = now if until is None else until
    if since is None:
        since = until - span if span is not None else 0.0
    if since >= until:
        raise BadRequest("since must be before until")
    return since, until


def _instant(text: str, name: str) -> float:
    try:
        return float(text)
    except ValueError:
        pass
    try:
        moment = dt.datetime.fromisoformat(text)
    except ValueError:
        raise BadRequest(f"{name} must be epoch seconds or an ISO 8601 time") from None
    return moment.timestamp()  # a naive time is local, as Glances' history times are


def _duration(text: str) -> float:
    match = _DURATION.match(text.strip())
    if match is None or float(match[1]) <= 0:
        raise BadRequest("range must be a positive duration: seconds, or 90m, 12h, 30d, 2w")
    return float(match[1]) * _UNITS[match[2] or "s"]


class HistoryReader:
    """Builds a system's history buffers for a range from snapshots and rollups."""

    def __init__(
        self,
        store: Store,
        specs: Mapping[str, PluginSpec],
        retention: Retention,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.store = store
        self.specs = specs
        self.retention = retention
        self.clock = clock

    async def latest(self, system_id: int) -> dict[str, History]:
        """The newest ``history_size`` snapshots, as when no range is asked for."""
        out = self._buffers()
        await self._raw(out, system_id, None, None)
        return out

    async def over(
        self, system_id: int, since: float, until: float
    ) -> tuple[dict[str, History], int]:
        """History over ``[since, until)`` and the resolution (seconds; 0 raw) chosen for it."""
        resolution = pick_resolution(since, until, self.clock(), self.retention)
        out = self._buffers()
        await self._level(out, system_id, resolution, since, until)
        return out, resolution

    def _buffers(self) -> dict[str, History]:
        return {name: History(self.retention.history_size) for name in self.specs}

    async def _level(
        self, out: dict[str, History], system_id: int, resolution: int, since: float, until: float
    ) -> None:
        if resolution == RAW:
            await self._raw(out, system_id, since, until)
            return
        done = await self.store.rollup_watermark(resolution)
        covered = since if done is None else max(since, min(until, done))
        if covered > since:
            rows = await self.store.rollups(
                system_id, resolution, since, covered, limit=self.retention.history_size
            )
            for row in rows:
                for plugin, items in row.stats.items():
                    if plugin in out:
                        for item, summary in items.items():
                            out[plugin].add(item, row.bucket_start, summary[0])
        if covered < until:
            await self._level(out, system_id, _FINER[resolution], covered, until)

    async def _raw(
        self, out: dict[str, History], system_id: int, since: float | None, until: float | None
    ) -> None:
        rows = await self.store.snapshots(
            system_id, since=since, until=until, limit=self.retention.history_size
        )
        for snap in reversed(rows):  # newest first from the store; buffers want oldest first
            for name, spec in self.specs.items():
                if name in snap.normalized:
                    out[name].record(snap.normalized[name], snap.created_at, spec.history, spec.key)
