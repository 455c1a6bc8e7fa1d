"""The passive-checks part of the storage contract: hosts, services, their state and history.

Hosts and services share one record, ``CheckObject`` (a host's ``service_description`` is
``""``), with their current state inline, so a result is one read and one group of writes.
``CheckStore`` is part of ``Store``; ``checks_sql.CheckSQL`` implements it for both backends.
``fresh_due_at`` is when the freshness scheduler must mark an object stale; it is indexed, so
``due_check_objects`` and ``next_due`` never scan every service.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal, Protocol

if TYPE_CHECKING:
    from .base import EventRecord

__all__ = [
    "FILTER_NUMBERS",
    "FILTER_TEXTS",
    "MAX_CHECK_ATTEMPTS",
    "MAX_WINDOW_SECONDS",
    "AckRecord",
    "AllOf",
    "AnyOf",
    "CheckObject",
    "CheckResultRecord",
    "CheckStore",
    "Compare",
    "Condition",
    "DowntimeRecord",
    "Not",
    "ObjectKind",
    "PerfPoint",
]

ObjectKind = Literal["host", "service"]

# Bounds of an object's settings, whoever sets them (API, CLI, TOML): attempts live in a 32-bit
# column on PostgreSQL, and a freshness window (or a result's ttl) past ten years is a mistake.
MAX_CHECK_ATTEMPTS = 1000
MAX_WINDOW_SECONDS = 10 * 366 * 86400.0


@dataclass(frozen=True, slots=True)
class CheckObject:
    """A host or a service: its configuration, then its current state."""

    id: int
    kind: str
    host_id: int | None
    host_name: str
    service_description: str
    check_freshness: bool
    freshness_threshold: float
    max_check_attempts: int
    stale_state: int
    stale_output: str
    passive_checks_enabled: bool
    notes: str
    created_at: float
    state: int = 0
    state_type: str = "HARD"
    attempt: int = 1
    output: str = ""
    long_output: str = ""
    perfdata: str = ""
    has_been_checked: bool = False
    last_check: float | None = None
    last_state_change: float = 0.0
    last_hard_state: int = 0
    last_hard_state_change: float = 0.0
    acknowledged: bool = False
    ack_sticky: bool = False
    downtime_depth: int = 0
    is_stale: bool = False
    ttl: float | None = None
    fresh_due_at: float | None = None
    version: int = 0  # counts the row's changes; a save expects the version it started from

    @property
    def is_host(self) -> bool:
        return self.kind == "host"

    @property
    def display_name(self) -> str:
        return self.host_name if self.is_host else f"{self.host_name};{self.service_description}"


@dataclass(frozen=True, slots=True)
class CheckResultRecord:
    """One result as it was recorded: ``source`` is ``passive`` or ``stale`` (synthetic)."""

    id: int | None
    object_id: int
    checked_at: float
    state: int
    state_type: str
    attempt: int
    output: str
    long_output: str
    perfdata: str
    source: str
    ttl: float | None = None


@dataclass(frozen=True, slots=True)
class PerfPoint:
    """One perfdata value of one result, kept as a point of the label's time series."""

    label: str
    value: float | None
    uom: str = ""
    warn: str = ""
    crit: str = ""
    min: float | None = None
    max: float | None = None


@dataclass(frozen=True, slots=True)
class AckRecord:
    id: int
    object_id: int
    author: str
    comment: str
    sticky: bool
    notify: bool
    persistent: bool
    created_at: float
    removed_at: float | None


@dataclass(frozen=True, slots=True)
class DowntimeRecord:
    """A scheduled downtime; ``next_at`` is its next start (or end, once started), None when
    it is over or deleted."""

    id: int
    object_id: int
    author: str
    comment: str
    start_time: float
    end_time: float
    fixed: bool
    duration: float
    created_at: float
    started_at: float | None
    ended_at: float | None
    next_at: float | None


# Columns a ``Condition`` may compare (and ``order`` sort by: the numbers): not null on both
# backends, so SQL's comparisons agree with Python's on every row.
FILTER_NUMBERS = frozenset({
    "state", "attempt", "max_check_attempts", "last_hard_state", "acknowledged",
    "downtime_depth", "check_freshness", "freshness_threshold", "is_stale", "has_been_checked",
    "passive_checks_enabled", "stale_state",
})  # fmt: skip
FILTER_TEXTS = frozenset({
    "host_name", "service_description", "output", "long_output", "perfdata", "notes",
})  # fmt: skip


@dataclass(frozen=True, slots=True)
class Compare:
    """``column op value``: a number column with ``= != < <= > >=`` and a number, or a text
    column with ``=`` or ``!=`` and a string (text order depends on the database's collation)."""

    column: str
    op: str
    value: float | str


@dataclass(frozen=True, slots=True)
class AllOf:
    terms: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class AnyOf:
    terms: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class Not:
    term: Condition


Condition = Compare | AllOf | AnyOf | Not


class CheckStore(Protocol):
    """Check objects and their history. Taken names raise ``Conflict``."""

    async def add_check_object(
        self,
        kind: ObjectKind,
        host_name: str,
        service_description: str = "",
        *,
        freshness_threshold: float | None = None,
        max_check_attempts: int = 1,
        stale_state: int | None = None,
        stale_output: str = "",
        notes: str = "",
    ) -> CheckObject:
        """Add a host, or a service of an existing host (``NotFound`` if the host is not).

        A ``freshness_threshold`` turns ``check_freshness`` on; ``stale_state`` defaults to
        CRITICAL for a service and DOWN for a host."""

    async def get_check_object(
        self, host_name: str, service_description: str = ""
    ) -> CheckObject | None: ...

    async def configure_check_object(
        self,
        host_name: str,
        service_description: str = "",
        *,
        freshness_threshold: float | None,
        max_check_attempts: int,
        stale_state: int,
        stale_output: str,
        notes: str,
    ) -> bool:
        """Change an object's configuration, keeping its state; False if there is none.

        A ``freshness_threshold`` turns ``check_freshness`` on (None turns it off) and moves the
        freshness deadline to the last result (or now) plus the threshold, unless the object is
        already stale or a result's ``ttl`` sets the deadline."""

    async def check_object_by_id(self, object_id: int) -> CheckObject | None: ...

    async def list_check_objects(
        self, kind: ObjectKind | None = None, *, host_name: str | None = None
    ) -> list[CheckObject]:
        """By host name, then service description."""

    async def select_check_objects(
        self,
        kind: ObjectKind,
        where: Condition | None = None,
        *,
        order: Sequence[tuple[str, bool]] = (),
        limit: int | None = None,
        offset: int = 0,
    ) -> list[CheckObject]:
        """Objects of ``kind`` matching ``where``, sorted by ``order`` (number columns, True for
        descending), then by host name and service description; ``ValueError`` for a column or
        operator a ``Condition`` does not allow."""

    async def count_check_objects(self, kind: ObjectKind, where: Condition | None = None) -> int:
        """How many objects of ``kind`` match ``where``."""

    async def remove_check_object(self, host_name: str, service_description: str = "") -> bool:
        """Remove an object with its history (a host with its services); False if none."""

    async def record_check_result(
        self,
        after: CheckObject,
        result: CheckResultRecord,
        points: Sequence[PerfPoint] = (),
        *,
        only_if_due_at: float | None = None,
        events: Sequence[EventRecord] = (),
    ) -> bool:
        """Save ``after`` as the object's current state, with the result and its perfdata,
        only while the row is still at ``after.version`` (and, with ``only_if_due_at``, still
        due then). False when it changed meanwhile or is gone: nothing was saved.

        ``events`` (new ones, ``id`` None) are inserted in the same transaction, so a state
        change is never committed without its event, and thus its notification."""

    async def check_results(self, object_id: int, *, limit: int = 100) -> list[CheckResultRecord]:
        """Latest first."""

    async def perf_series(
        self, object_id: int, label: str, *, since: float | None = None
    ) -> list[tuple[float, float | None]]:
        """(time, value) of one perfdata label, oldest first."""

    async def due_check_objects(self, now: float, *, limit: int = 500) -> list[CheckObject]:
        """Objects whose ``fresh_due_at`` has passed, earliest first."""

    async def next_due(self) -> float | None:
        """The earliest freshness deadline or downtime start/end; None when nothing is due."""

    async def set_acknowledgement(
        self,
        object_id: int,
        author: str,
        comment: str,
        *,
        sticky: bool,
        notify: bool,
        persistent: bool,
        at: float,
    ) -> int:
        """Record an acknowledgement and mark the object acknowledged; return its id."""

    async def remove_acknowledgement(self, object_id: int, at: float) -> bool:
        """Clear the object's acknowledgement; False if it had none."""

    async def add_downtime(
        self,
        object_id: int,
        author: str,
        comment: str,
        *,
        start_time: float,
        end_time: float,
        fixed: bool,
        duration: float,
        at: float,
    ) -> DowntimeRecord: ...

    async def get_downtime(self, downtime_id: int) -> DowntimeRecord | None: ...

    async def list_downtimes(self, object_id: int) -> list[DowntimeRecord]:
        """The object's downtimes that are not over, by start."""

    async def pending_downtimes(self, *, limit: int = 1000) -> list[DowntimeRecord]:
        """Every object's downtimes that are not over (under way or to come), by object and
        start, at most ``limit``: one read for a whole status board."""

    async def due_downtimes(self, now: float, *, limit: int = 500) -> list[DowntimeRecord]: ...

    async def move_downtime(
        self,
        downtime: DowntimeRecord,
        *,
        started_at: float | None,
        ended_at: float | None,
        next_at: float | None,
        depth_change: int,
    ) -> bool:
        """Save a downtime's progress (while its ``next_at`` is still what ``downtime`` says)
        and change its object's downtime depth by ``depth_change``; False if it moved on."""
