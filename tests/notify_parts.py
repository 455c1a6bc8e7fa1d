"""Shared parts of the notification tests: a clock the test moves, tags given directly,
and a dispatcher over a real store."""

from __future__ import annotations

from dataclasses import dataclass, field

from fleetwatch.engine.checks import EVENTS_SYSTEM
from fleetwatch.engine.notify.dispatcher import Dispatcher
from fleetwatch.engine.notify.events import NotifyEvent
from fleetwatch.engine.notify.messages import Messages
from fleetwatch.store import EventRecord, Store


@dataclass
class Clock:
    now: float = 1_000_000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class GivenTags:
    """Object tags given by the test, by object name (``web1`` or ``web1 / Backup``)."""

    tags: dict[str, frozenset[str]] = field(default_factory=dict)

    async def tags_of(self, event: NotifyEvent) -> frozenset[str]:
        return self.tags.get(event.object, frozenset())


def dispatcher(store: Store, clock: Clock, tags: GivenTags | None = None) -> Dispatcher:
    return Dispatcher(
        store,
        Messages("https://hub.example"),
        checks_system=EVENTS_SYSTEM,
        tags=tags,
        clock=clock,
    )


def threshold_event(system_id: int, begin: float, state: str = "WARNING") -> EventRecord:
    return EventRecord(
        id=None, system_id=system_id, begin=begin, end=-1, state=state, type="CPU_TOTAL",
        value_max=91.5, value_avg=91.5, value_min=91.5, value_sum=91.5, count=1,
        desc="CPU total",
    )  # fmt: skip
