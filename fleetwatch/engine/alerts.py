"""The alert engine: Glances' event semantics, driven by collections, kept per system.

An event opens when a watched value reaches WARNING or CRITICAL, escalates to CRITICAL but
never back, gathers max/min/sum/count and the processes most often on top while it lasts, and
ends (``end`` set) when the value falls back below WARNING. An event that ended sooner than
``min_duration`` seconds after it began is dropped: a one-collection spike is not an alarm.
The list keeps the newest ``max_events``, newest first.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from fleetwatch.engine.watches import Reading, readings
from fleetwatch.model.limits import Limits
from fleetwatch.store.base import EventRecord

ALERT_LEVELS = ("WARNING", "CRITICAL")
NO_ALERT = "No warning or critical alert detected"


@dataclass(slots=True)
class Event:
    """One event as it evolves; ``id`` is the store row once saved."""

    type: str
    state: str
    begin: float
    sort: str
    desc: str
    end: float = -1.0
    max: float = float("-inf")
    min: float = float("inf")
    sum: float = 0.0
    count: int = 0
    top_counts: Counter[str] = field(default_factory=Counter)
    id: int | None = None

    @property
    def ongoing(self) -> bool:
        return self.end < 0

    def add(self, value: float, level: str, top: list[str]) -> None:
        if level == "CRITICAL":
            self.state = "CRITICAL"
        self.max = max(self.max, value)
        self.min = min(self.min, value)
        self.sum += value
        self.count += 1
        self.top_counts.update(top)

    @property
    def top(self) -> list[str]:
        return [name for name, _ in self.top_counts.most_common(3)]

    def as_glances(self, global_msg: str) -> dict[str, Any]:
        return {
            "begin": self.begin,
            "end": self.end,
            "state": self.state,
            "type": self.type,
            "max": self.max,
            "avg": round(self.sum / self.count, 2) if self.count else 0.0,
            "min": self.min,
            "sum": self.sum,
            "count": self.count,
            "top": self.top,
            "desc": self.desc,
            "sort": self.sort,
            "global_msg": global_msg,
        }

    def record(self, system_id: int, global_msg: str) -> EventRecord:
        return EventRecord(
            id=self.id, system_id=system_id, begin=self.begin, end=self.end, state=self.state,
            type=self.type, value_max=self.max, value_avg=self.sum / max(self.count, 1),
            value_min=self.min, value_sum=self.sum, count=self.count, top=self.top,
            desc=self.desc, sort=self.sort, global_msg=global_msg,
            data={"top_counts": dict(self.top_counts)},
        )  # fmt: skip

    @classmethod
    def from_record(cls, rec: EventRecord) -> Event:
        counts = rec.data.get("top_counts") if isinstance(rec.data, dict) else None
        return cls(
            type=rec.type, state=rec.state, begin=rec.begin, sort=rec.sort, desc=rec.desc,
            end=rec.end, max=rec.value_max, min=rec.value_min, sum=rec.value_sum,
            count=rec.count, top_counts=Counter(counts or {n: 1 for n in rec.top}), id=rec.id,
        )  # fmt: skip


def _top_processes(processes: Any, sort: str, count: int = 3) -> list[str]:
    if not isinstance(processes, list):
        return []

    def weight(proc: dict[str, Any]) -> float:
        value = proc.get(sort)
        if sort == "io_counters" and isinstance(value, list) and len(value) >= 4:
            return float(value[0] - value[2] + value[1] - value[3])
        return float(value) if isinstance(value, int | float) else 0.0

    ranked = sorted((p for p in processes if isinstance(p, dict)), key=weight, reverse=True)
    return [str(p.get("name")) for p in ranked[:count]]


class AlertEngine:
    """Evaluates one system's stats after each collection and keeps its events."""

    def __init__(self, min_duration: float = 6.0, max_events: int = 10) -> None:
        self.min_duration = min_duration
        self.max_events = max_events
        self.events: list[Event] = []

    def restore(self, records: list[EventRecord]) -> None:
        """Continue from stored events (newest first), e.g. after a restart."""
        self.events = [Event.from_record(r) for r in records[: self.max_events]]

    def _ongoing(self) -> dict[str, Event]:
        return {e.type: e for e in self.events if e.ongoing}

    def evaluate(self, stats: dict[str, Any], limits: dict[str, Limits], now: float) -> list[Event]:
        """Apply one collection; returns the events that changed and should be saved."""
        ongoing = self._ongoing()
        changed: list[Event] = []
        seen: set[str] = set()
        for reading in readings(stats, limits):
            event = ongoing.get(reading.type)
            if event is None and reading.level not in ALERT_LEVELS:
                continue  # the usual case, with nothing to open, add to or close
            seen.add(reading.type)
            if reading.level in ALERT_LEVELS:
                if event is None:
                    event = self._open(reading, now)
                event.add(
                    reading.value,
                    reading.level,
                    _top_processes(stats.get("processlist"), reading.sort),
                )
                changed.append(event)
            elif event is not None:
                changed.extend(self._close(event, now))
        for kind, event in ongoing.items():
            if kind not in seen:  # the value is gone (an unmounted file system): the event ends
                changed.extend(self._close(event, now))
        if not changed:
            return []
        self._bound()
        kept = {id(e) for e in self.events}
        return [e for e in changed if id(e) in kept and self._lasting(e, now)]

    def _open(self, reading: Reading, now: float) -> Event:
        event = Event(type=reading.type, state=reading.level, begin=now, sort=reading.sort,
                      desc=reading.desc)  # fmt: skip
        self.events.insert(0, event)
        return event

    def _close(self, event: Event, now: float) -> list[Event]:
        event.end = now
        if event.end - event.begin < self.min_duration:
            self.events.remove(event)
            return []
        return [event]

    def _lasting(self, event: Event, now: float) -> bool:
        # Not worth a store row until it has outlived a spike; short ones never get one.
        end = now if event.ongoing else event.end
        return end - event.begin >= self.min_duration

    def _bound(self) -> None:
        self.events.sort(key=lambda e: e.begin, reverse=True)
        del self.events[self.max_events :]

    def clear(self, warning_only: bool) -> list[Event]:
        """Remove finished events (only warnings when asked); returns those removed."""
        removed = [
            e for e in self.events if not e.ongoing and (not warning_only or e.state == "WARNING")
        ]
        self.events = [e for e in self.events if e not in removed]
        return removed

    def global_msg(self) -> str:
        ongoing = [e for e in self.events if e.ongoing]
        if not ongoing:
            return NO_ALERT
        worst = max(ongoing, key=lambda e: (e.state == "CRITICAL", e.max))
        return f"{worst.state}: {worst.desc} at {worst.max:.1f}"

    def as_glances(self) -> list[dict[str, Any]]:
        message = self.global_msg()
        return [e.as_glances(message) for e in self.events]
